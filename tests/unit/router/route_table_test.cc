#include "router/route_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strait::router {
namespace {

config::v1::Config ThreeRouters() {
  config::v1::Config c;
  (*c.mutable_entry_points())["web"].set_address(":80");
  (*c.mutable_entry_points())["admin"].set_address(":81");
  auto& catch_all = (*c.mutable_routers())["catch-all"];
  catch_all.set_rule("PathPrefix(`/`)");
  catch_all.set_service("default");
  auto& svc = (*c.mutable_routers())["greeter"];
  svc.set_rule("GRPCService(`helloworld.Greeter`)");
  svc.set_service("greeter");
  auto& method = (*c.mutable_routers())["hello-only"];
  method.set_rule("GRPCMethod(`/helloworld.Greeter/SayHello`)");
  method.set_service("hello");
  method.add_entry_points("web");
  return c;
}

const Route* Route(const RouteTable& t, absl::string_view path) {
  HeaderList none;
  return t.Match(RequestView{path, "example", &none});
}

TEST(RouteTableTest, LongerRulesWinByDefault) {
  absl::StatusOr<RouteTable> t = RouteTable::Build(ThreeRouters(), "web");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Route(*t, "/helloworld.Greeter/SayHello")->service_name, "hello");
  EXPECT_EQ(Route(*t, "/helloworld.Greeter/SayHelloStream")->service_name, "greeter");
  EXPECT_EQ(Route(*t, "/other.Svc/Do")->service_name, "default");
}

TEST(RouteTableTest, ExplicitPriorityOverridesRuleLength) {
  config::v1::Config c = ThreeRouters();
  (*c.mutable_routers())["catch-all"].set_priority(1000);
  absl::StatusOr<RouteTable> t = RouteTable::Build(c, "web");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Route(*t, "/helloworld.Greeter/SayHello")->router_name, "catch-all");
}

TEST(RouteTableTest, RoutersServeOnlyTheirEntryPoints) {
  absl::StatusOr<RouteTable> t = RouteTable::Build(ThreeRouters(), "admin");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u);  // hello-only is bound to "web"
  EXPECT_EQ(Route(*t, "/helloworld.Greeter/SayHello")->service_name, "greeter");
}

TEST(RouteTableTest, NoMatchIsNull) {
  config::v1::Config c;
  auto& r = (*c.mutable_routers())["only"];
  r.set_rule("GRPCService(`a.B`)");
  r.set_service("s");
  absl::StatusOr<RouteTable> t = RouteTable::Build(c, "web");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Route(*t, "/c.D/E"), nullptr);
}

TEST(RouteTableTest, BadRuleNamesTheRouter) {
  config::v1::Config c = ThreeRouters();
  (*c.mutable_routers())["greeter"].set_rule("Nope(`x`)");
  absl::StatusOr<RouteTable> t = RouteTable::Build(c, "web");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), ::testing::HasSubstr("routers.greeter.rule: unknown matcher"));
}

}  // namespace
}  // namespace strait::router
