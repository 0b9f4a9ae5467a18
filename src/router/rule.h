#ifndef STRAIT_ROUTER_RULE_H_
#define STRAIT_ROUTER_RULE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/header.h"

namespace strait::router {

// What a rule looks at in one request.
struct RequestView {
  absl::string_view path;       // :path
  absl::string_view authority;  // :authority (or host)
  const HeaderList* headers = nullptr;
};

// A compiled router rule: matchers joined by `&&` (see Router.rule in
// config.proto). Immutable; Matches is const and allocation-free.
class Rule {
 public:
  // Parses `text`; errors say what is wrong and at which offset.
  static absl::StatusOr<Rule> Parse(absl::string_view text);
  bool Matches(const RequestView& request) const;
  // The paths the rule matches exactly (GRPCMethod, Path): the gRPC methods
  // it names, for the metrics' bounded `method` label.
  std::vector<std::string> ExactPaths() const;

 private:
  struct Matcher {
    enum class Kind {
      kPath,        // :path equals a
      kPathPrefix,  // :path starts with a (GRPCService compiles to "/a/")
      kHost,        // :authority equals a (case-insensitive; port-less a ignores the port)
      kHeader,      // header a (lowercased) equals b
    };
    Kind kind;
    std::string a;
    std::string b;
  };
  std::vector<Matcher> matchers_;
};

}  // namespace strait::router

#endif  // STRAIT_ROUTER_RULE_H_
