#include "router/rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strait::router {
namespace {

using ::testing::HasSubstr;

bool Matches(const std::string& rule, absl::string_view path,
             absl::string_view authority = "api.example:443", const HeaderList& headers = {}) {
  absl::StatusOr<Rule> r = Rule::Parse(rule);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() && r->Matches(RequestView{path, authority, &headers});
}

TEST(RuleTest, GrpcMethodIsExact) {
  EXPECT_TRUE(Matches("GRPCMethod(`/pkg.Svc/Get`)", "/pkg.Svc/Get"));
  EXPECT_FALSE(Matches("GRPCMethod(`/pkg.Svc/Get`)", "/pkg.Svc/GetAll"));
  EXPECT_FALSE(Matches("GRPCMethod(`/pkg.Svc/Get`)", "/pkg.Svc2/Get"));
}

TEST(RuleTest, GrpcServiceMatchesEveryMethodOfThatServiceOnly) {
  EXPECT_TRUE(Matches("GRPCService(`pkg.Svc`)", "/pkg.Svc/Get"));
  EXPECT_TRUE(Matches("GRPCService(\"pkg.Svc\")", "/pkg.Svc/Put"));
  EXPECT_FALSE(Matches("GRPCService(`pkg.Svc`)", "/pkg.SvcOther/Get"));
  EXPECT_FALSE(Matches("GRPCService(`pkg.Svc`)", "/pkg.Svc"));
}

TEST(RuleTest, PathAndPathPrefix) {
  EXPECT_TRUE(Matches("Path(`/health`)", "/health"));
  EXPECT_FALSE(Matches("Path(`/health`)", "/health/x"));
  EXPECT_TRUE(Matches("PathPrefix(`/`)", "/anything/at/all"));
  EXPECT_TRUE(Matches("PathPrefix(`/pkg.`)", "/pkg.Svc/Get"));
  EXPECT_FALSE(Matches("PathPrefix(`/other`)", "/pkg.Svc/Get"));
}

TEST(RuleTest, HostIgnoresCaseAndPortUnlessGiven) {
  EXPECT_TRUE(Matches("Host(`API.example`)", "/", "api.example:443"));
  EXPECT_TRUE(Matches("Host(`api.example`)", "/", "api.example"));
  EXPECT_FALSE(Matches("Host(`api.example`)", "/", "web.example:443"));
  EXPECT_TRUE(Matches("Host(`api.example:443`)", "/", "api.example:443"));
  EXPECT_FALSE(Matches("Host(`api.example:80`)", "/", "api.example:443"));
  EXPECT_TRUE(Matches("Host(`[::1]`)", "/", "[::1]:8080"));
}

TEST(RuleTest, HeaderNameIsCaseInsensitiveValueExact) {
  HeaderList headers = {{"x-tenant", "blue"}, {"x-other", "1"}};
  EXPECT_TRUE(Matches("Header(`X-Tenant`, `blue`)", "/", "h", headers));
  EXPECT_FALSE(Matches("Header(`x-tenant`, `Blue`)", "/", "h", headers));
  EXPECT_FALSE(Matches("Header(`x-missing`, `blue`)", "/", "h", headers));
}

TEST(RuleTest, AndRequiresEveryMatcher) {
  HeaderList headers = {{"x-tenant", "blue"}};
  std::string rule = "GRPCService(`pkg.Svc`) && Host(`api.example`) && Header(`x-tenant`,`blue`)";
  EXPECT_TRUE(Matches(rule, "/pkg.Svc/Get", "api.example", headers));
  EXPECT_FALSE(Matches(rule, "/pkg.Svc/Get", "web.example", headers));
  EXPECT_FALSE(Matches(rule, "/pkg.Svc/Get", "api.example", {}));
}

TEST(RuleTest, ErrorsSayWhatAndWhere) {
  EXPECT_THAT(Rule::Parse("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(Rule::Parse("Foo(`x`)").status().message(),
              HasSubstr("unknown matcher \"Foo\" at offset 0"));
  EXPECT_THAT(Rule::Parse("Path(`/a`) Host(`b`)").status().message(),
              HasSubstr("expected \"&&\" at offset 11"));
  EXPECT_THAT(Rule::Parse("Path(`/a`").status().message(), HasSubstr("expected ')'"));
  EXPECT_THAT(Rule::Parse("Path(`/a)").status().message(), HasSubstr("unterminated"));
  EXPECT_THAT(Rule::Parse("GRPCMethod(`pkg.Svc/Get`)").status().message(),
              HasSubstr("/pkg.Service/Method"));
  EXPECT_THAT(Rule::Parse("Header(`x`)").status().message(), HasSubstr("takes 2 arguments"));
  EXPECT_THAT(Rule::Parse("PathPrefix(`api`)").status().message(),
              HasSubstr("must start with '/'"));
}

}  // namespace
}  // namespace strait::router
