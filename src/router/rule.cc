#include "router/rule.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace strait::router {
namespace {

// A cursor over the rule text with the error helpers the parser needs.
class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  bool Consume(absl::string_view token) {
    SkipSpace();
    if (absl::StartsWith(text_.substr(pos_), token)) {
      pos_ += token.size();
      return true;
    }
    return false;
  }
  absl::string_view Identifier() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() && absl::ascii_isalnum(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  // A `backquoted` or "double-quoted" string.
  absl::StatusOr<std::string> Quoted() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '`' && text_[pos_] != '"')) {
      return Error("expected a `quoted` argument");
    }
    char quote = text_[pos_];
    size_t end = text_.find(quote, pos_ + 1);
    if (end == absl::string_view::npos) return Error("unterminated string");
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " at offset ", pos_));
  }
  size_t pos() const { return pos_; }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

// "host:port" or "[v6]:port" -> host part.
absl::string_view HostWithoutPort(absl::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == absl::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  size_t colon = authority.rfind(':');
  return colon == absl::string_view::npos ? authority : authority.substr(0, colon);
}

bool HasPort(absl::string_view host) {
  if (!host.empty() && host.front() == '[') return host.find("]:") != absl::string_view::npos;
  return host.find(':') != absl::string_view::npos;
}

}  // namespace

absl::StatusOr<Rule> Rule::Parse(absl::string_view text) {
  Scanner in(text);
  if (in.AtEnd()) return absl::InvalidArgumentError("rule is empty");
  Rule rule;
  do {
    size_t at = in.pos();
    absl::string_view name = in.Identifier();
    if (name.empty()) return in.Error("expected a matcher such as PathPrefix(`/`)");
    if (!in.Consume("(")) return in.Error(absl::StrCat("expected '(' after ", name));
    std::vector<std::string> args;
    do {
      absl::StatusOr<std::string> arg = in.Quoted();
      if (!arg.ok()) return arg.status();
      args.push_back(std::move(*arg));
    } while (in.Consume(","));
    if (!in.Consume(")")) return in.Error("expected ')'");

    auto want_args = [&](size_t n) -> absl::Status {
      if (args.size() == n) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(name, " takes ", n, " argument",
                                                     n == 1 ? "" : "s", ", got ",
                                                     args.size(), " at offset ", at));
    };
    Matcher m;
    if (name == "GRPCMethod") {
      if (absl::Status s = want_args(1); !s.ok()) return s;
      const std::string& v = args[0];
      size_t slash = v.find('/', 1);
      if (v.size() < 4 || v[0] != '/' || slash == std::string::npos || slash + 1 == v.size() ||
          v.find('/', slash + 1) != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "GRPCMethod value must look like /pkg.Service/Method, got \"", v, "\""));
      }
      m = {Matcher::Kind::kPath, v, ""};
    } else if (name == "GRPCService") {
      if (absl::Status s = want_args(1); !s.ok()) return s;
      if (args[0].empty() || args[0].find('/') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "GRPCService value must look like pkg.Service, got \"", args[0], "\""));
      }
      m = {Matcher::Kind::kPathPrefix, absl::StrCat("/", args[0], "/"), ""};
    } else if (name == "Path" || name == "PathPrefix") {
      if (absl::Status s = want_args(1); !s.ok()) return s;
      if (args[0].empty() || args[0][0] != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat(name, " value must start with '/', got \"", args[0], "\""));
      }
      m = {name == "Path" ? Matcher::Kind::kPath : Matcher::Kind::kPathPrefix, args[0], ""};
    } else if (name == "Host") {
      if (absl::Status s = want_args(1); !s.ok()) return s;
      if (args[0].empty()) return absl::InvalidArgumentError("Host value is empty");
      m = {Matcher::Kind::kHost, absl::AsciiStrToLower(args[0]), ""};
    } else if (name == "Header") {
      if (absl::Status s = want_args(2); !s.ok()) return s;
      if (args[0].empty()) return absl::InvalidArgumentError("Header name is empty");
      m = {Matcher::Kind::kHeader, absl::AsciiStrToLower(args[0]), args[1]};
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown matcher \"", name, "\" at offset ", at,
          " (known: GRPCMethod, GRPCService, Path, PathPrefix, Host, Header)"));
    }
    rule.matchers_.push_back(std::move(m));
    if (in.AtEnd()) break;
    if (!in.Consume("&&")) return in.Error("expected \"&&\"");
  } while (true);
  return rule;
}

bool Rule::Matches(const RequestView& request) const {
  for (const Matcher& m : matchers_) {
    switch (m.kind) {
      case Matcher::Kind::kPath:
        if (request.path != m.a) return false;
        break;
      case Matcher::Kind::kPathPrefix:
        if (!absl::StartsWith(request.path, m.a)) return false;
        break;
      case Matcher::Kind::kHost: {
        absl::string_view authority =
            HasPort(m.a) ? request.authority : HostWithoutPort(request.authority);
        if (!absl::EqualsIgnoreCase(authority, m.a)) return false;
        break;
      }
      case Matcher::Kind::kHeader: {
        bool found = false;
        if (request.headers != nullptr) {
          for (const Header& h : *request.headers) {
            if (h.name == m.a && h.value == m.b) {
              found = true;
              break;
            }
          }
        }
        if (!found) return false;
        break;
      }
    }
  }
  return true;
}

std::vector<std::string> Rule::ExactPaths() const {
  std::vector<std::string> out;
  for (const Matcher& m : matchers_) {
    if (m.kind == Matcher::Kind::kPath) out.push_back(m.a);
  }
  return out;
}

}  // namespace strait::router
