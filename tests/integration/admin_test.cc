// The admin service through real gRPC C++ clients, against strait in process
// (the ControlPlane, its Server and the AdminServer, as main wires them)
// with real echo backends: reads, changes and their validation, versions,
// the token, reflection in both versions, drains, Watch, file reloads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin_strait.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/support/certs.h"
#include "tests/support/reflection_client.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

namespace av1 = ::strait::admin::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

// A service's servers as the YAML flow map the config file takes.
std::string ServersYaml(const std::vector<const TestBackend*>& backends) {
  std::string servers;
  for (const TestBackend* b : backends) {
    absl::StrAppend(&servers, servers.empty() ? "" : ", ", "{url: \"h2c://", b->address(),
                    "\"}");
  }
  return "[" + servers + "]";
}

config::v1::Service ServiceOf(const std::vector<const TestBackend*>& backends) {
  config::v1::Service service;
  for (const TestBackend* b : backends) {
    service.mutable_load_balancer()->add_servers()->set_url("h2c://" + b->address());
  }
  return service;
}

class AdminTest : public ::testing::Test {
 protected:
  // All with grpc.health.v1 (gRPC enables it per process anyway), so a
  // health-checked service finds each of them SERVING.
  AdminTest() : a_("a", {.health = true}), b_("b", {.health = true}), c_("c", {.health = true}) {}

  void SetUp() override {
    char dir[] = "/tmp/strait-admin-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    config_path_ = dir_ + "/strait.yaml";
  }
  void TearDown() override {
    strait_.Stop();
    std::filesystem::remove_all(dir_);
  }

  // entry point web; router all → service echo over `backends`.
  std::string Yaml(const std::vector<const TestBackend*>& backends) const {
    return absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {all: {rule: "PathPrefix(`/`)", service: echo}}
services: {echo: {loadBalancer: {servers: )yaml",
                        ServersYaml(backends), "}}}\n");
  }

  void WriteConfig(const std::string& yaml) { std::ofstream(config_path_) << yaml; }

  void Start(const std::string& yaml, std::string token = "", bool watch = false) {
    WriteConfig(yaml);
    ASSERT_NO_FATAL_FAILURE(strait_.Start(config_path_, dir_ + "/state.json", token, watch));
    plane_ = strait_.plane.get();
    admin_channel_ = MakeChannel(strait_.admin->port());
    stub_ = av1::Admin::NewStub(admin_channel_);
  }

  // The backend that answers a new RPC through strait's entry point web.
  std::string ServedBy() {
    auto stub = MakeStub(plane_->server().port("web"));
    grpc::ClientContext context;
    test::v1::EchoResponse response;
    grpc::Status s = stub->Unary(&context, test::v1::EchoRequest(), &response);
    return s.ok() ? response.backend_name() : "error: " + s.error_message();
  }

  uint64_t Version() {
    grpc::ClientContext context;
    av1::GetConfigResponse response;
    EXPECT_TRUE(stub_->GetConfig(&context, {}, &response).ok());
    return response.version();
  }

  grpc::Status UpsertService(const std::string& name, const config::v1::Service& service,
                             av1::ChangeResponse* response, uint64_t expected_version = 0,
                             bool validate_only = false) {
    av1::UpsertServiceRequest request;
    request.set_name(name);
    *request.mutable_service() = service;
    request.mutable_options()->set_expected_version(expected_version);
    request.mutable_options()->set_validate_only(validate_only);
    grpc::ClientContext context;
    return stub_->UpsertService(&context, request, response);
  }

  TestBackend a_, b_, c_;
  std::string dir_, config_path_;
  AdminStrait strait_;
  admin::ControlPlane* plane_ = nullptr;  // strait_'s
  std::shared_ptr<grpc::Channel> admin_channel_;
  std::unique_ptr<av1::Admin::Stub> stub_;
};

TEST_F(AdminTest, GetConfigReturnsTheFileItsVersionAndOrigin) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_})));
  grpc::ClientContext context;
  av1::GetConfigResponse response;
  ASSERT_TRUE(stub_->GetConfig(&context, {}, &response).ok());
  EXPECT_EQ(response.version(), 1u);
  EXPECT_EQ(response.origin().kind(), av1::Origin::FILE);
  EXPECT_EQ(response.origin().detail(), config_path_);
  EXPECT_EQ(response.config().services().at("echo").load_balancer().servers(0).url(),
            "h2c://" + a_.address());
}

TEST_F(AdminTest, ChangesApplyToNewRpcsAtOnceAndBumpTheVersion) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_})));
  ASSERT_EQ(ServedBy(), "a");

  av1::ChangeResponse changed;
  ASSERT_TRUE(UpsertService("echo", ServiceOf({&b_}), &changed).ok());
  EXPECT_EQ(changed.version(), 2u);
  EXPECT_TRUE(changed.applied());
  // The change returned once every worker runs it: the next RPC follows.
  EXPECT_EQ(ServedBy(), "b");

  // A new service and a router in front of it, more specific than `all`.
  ASSERT_TRUE(UpsertService("other", ServiceOf({&c_}), &changed).ok());
  av1::UpsertRouterRequest router;
  router.set_name("echo-to-c");
  router.mutable_router()->set_rule("PathPrefix(`/strait.test.v1.Echo/`)");
  router.mutable_router()->set_service("other");
  router.mutable_router()->set_priority(100);
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UpsertRouter(&context, router, &changed).ok());
  }
  EXPECT_EQ(changed.version(), 4u);
  EXPECT_EQ(ServedBy(), "c");

  av1::DeleteRequest remove;
  remove.set_name("echo-to-c");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DeleteRouter(&context, remove, &changed).ok());
  }
  EXPECT_EQ(ServedBy(), "b");

  grpc::ClientContext context;
  av1::GetConfigResponse now;
  ASSERT_TRUE(stub_->GetConfig(&context, {}, &now).ok());
  EXPECT_EQ(now.version(), 5u);
  EXPECT_EQ(now.origin().kind(), av1::Origin::ADMIN);
  EXPECT_EQ(now.origin().detail(), "DeleteRouter routers.echo-to-c");
  EXPECT_FALSE(now.config().routers().contains("echo-to-c"));
}

TEST_F(AdminTest, InvalidChangesNameTheFieldAndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_})));
  av1::ChangeResponse changed;

  config::v1::Service bad = ServiceOf({&b_});
  bad.mutable_load_balancer()->mutable_servers(0)->set_url("http://nowhere");
  grpc::Status status = UpsertService("echo", bad, &changed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("services.echo.loadBalancer.servers[0].url"));

  av1::UpsertRouterRequest router;
  router.set_name("r");
  router.mutable_router()->set_rule("PathPrefix(`/`)");
  router.mutable_router()->set_service("missing");
  {
    grpc::ClientContext context;
    status = stub_->UpsertRouter(&context, router, &changed);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("routers.r.service"));

  // Still referred to by router `all`: refused with the referrer's path.
  av1::DeleteRequest remove;
  remove.set_name("echo");
  {
    grpc::ClientContext context;
    status = stub_->DeleteService(&context, remove, &changed);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("routers.all.service"));

  remove.set_name("nope");
  {
    grpc::ClientContext context;
    status = stub_->DeleteService(&context, remove, &changed);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // A whole config that would not validate.
  av1::ReplaceConfigRequest replace;
  (*replace.mutable_config()->mutable_entry_points())["web"].set_address("not an address");
  {
    grpc::ClientContext context;
    status = stub_->ReplaceConfig(&context, replace, &changed);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("entryPoints.web.address"));

  // None of it changed anything.
  EXPECT_EQ(Version(), 1u);
  EXPECT_EQ(ServedBy(), "a");
}

TEST_F(AdminTest, StaleVersionsAreRefusedAndValidateOnlyChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_})));
  av1::ChangeResponse changed;
  ASSERT_TRUE(UpsertService("echo", ServiceOf({&b_}), &changed, /*expected_version=*/1).ok());
  ASSERT_EQ(changed.version(), 2u);

  grpc::Status stale = UpsertService("echo", ServiceOf({&c_}), &changed, 1);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(stale.error_message(), HasSubstr("expected version 1"));
  EXPECT_THAT(stale.error_message(), HasSubstr("version 2"));

  ASSERT_TRUE(UpsertService("echo", ServiceOf({&c_}), &changed, 2, /*validate_only=*/true).ok());
  EXPECT_FALSE(changed.applied());
  EXPECT_EQ(changed.version(), 2u);
  EXPECT_EQ(ServedBy(), "b");
  EXPECT_EQ(Version(), 2u);
}

TEST_F(AdminTest, TheTokenIsCheckedOnEveryCall) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_}), "s3cret"));
  av1::GetConfigResponse response;
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub_->GetConfig(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer wrong!");
    EXPECT_EQ(stub_->GetConfig(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    // A change without the token changes nothing.
    grpc::ClientContext context;
    av1::UpsertServiceRequest request;
    request.set_name("echo");
    *request.mutable_service() = ServiceOf({&b_});
    av1::ChangeResponse changed;
    EXPECT_EQ(stub_->UpsertService(&context, request, &changed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(ServedBy(), "a");
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer s3cret");
    ASSERT_TRUE(stub_->GetConfig(&context, {}, &response).ok());
    EXPECT_EQ(response.version(), 1u);
  }
  {
    // Probes need no token.
    auto health = grpc::health::v1::Health::NewStub(admin_channel_);
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse answer;
    ASSERT_TRUE(health->Check(&context, request, &answer).ok());
    EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_F(AdminTest, TheAdminServiceSpeaksTlsAndMtlsWhenAskedTo) {
  CertAuthority ca = CertAuthority::Create("admin CA");
  ca.WriteTo(dir_, "ca");
  Cert server = ca.Issue({.common_name = "strait admin", .ips = {"127.0.0.1"}});
  server.WriteTo(dir_, "server");
  Cert client = ca.Issue({.common_name = "operator"});
  WriteConfig(Yaml({&a_}));
  ASSERT_NO_FATAL_FAILURE(strait_.Start(config_path_, dir_ + "/state.json", "", false,
                                        admin::AdminTlsOptions{
                                            .cert_file = server.cert_file(),
                                            .key_file = server.key_file(),
                                            .client_ca_file = ca.cert_file(),
                                        }));
  const std::string target = "127.0.0.1:" + std::to_string(strait_.admin->port());
  auto version = [&](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    auto stub = av1::Admin::NewStub(grpc::CreateChannel(target, credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    av1::GetConfigResponse response;
    grpc::Status status = stub->GetConfig(&context, {}, &response);
    return status.ok() ? std::to_string(response.version()) : status.error_message();
  };
  EXPECT_EQ(version(grpc::SslCredentials({.pem_root_certs = ca.cert().CertPem(),
                                          .pem_private_key = client.KeyPem(),
                                          .pem_cert_chain = client.CertPem()})),
            "1");
  // No client certificate, or no TLS at all: refused.
  EXPECT_NE(version(grpc::SslCredentials({.pem_root_certs = ca.cert().CertPem()})), "1");
  EXPECT_NE(version(grpc::InsecureChannelCredentials()), "1");
}

// grpcurl's `list` and `describe strait.admin.v1.Admin`, through each
// reflection version: list_services, then file_containing_symbol, whose
// file (and its dependencies) describe every method and message.
template <typename Version>
void ExpectReflectionDescribesAdmin(std::shared_ptr<grpc::Channel> channel) {
  admin::ReflectionDatabase<Version> database(channel);
  EXPECT_THAT(database.ListServices(),
              IsSupersetOf({"strait.admin.v1.Admin", "grpc.health.v1.Health",
                            "grpc.reflection.v1.ServerReflection",
                            "grpc.reflection.v1alpha.ServerReflection"}));
  google::protobuf::DescriptorPool pool(&database);
  const google::protobuf::ServiceDescriptor* service =
      pool.FindServiceByName("strait.admin.v1.Admin");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->file()->name(), "strait/admin/v1/admin.proto");
  const google::protobuf::MethodDescriptor* upsert = service->FindMethodByName("UpsertService");
  ASSERT_NE(upsert, nullptr);
  // The request's config message resolves through the dependency.
  const google::protobuf::FieldDescriptor* field = upsert->input_type()->FindFieldByName("service");
  ASSERT_NE(field, nullptr);
  EXPECT_EQ(field->message_type()->full_name(), "strait.config.v1.Service");
  EXPECT_TRUE(service->FindMethodByName("Watch")->server_streaming());
  EXPECT_EQ(service->method_count(), 16);
  const google::protobuf::MethodDescriptor* stats = service->FindMethodByName("GetStats");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->output_type()
                ->FindFieldByName("routers")
                ->message_type()
                ->map_value()
                ->message_type()
                ->full_name(),
            "strait.admin.v1.RpcStats");
}

TEST_F(AdminTest, ReflectionDescribesAdminThroughV1AlphaAndV1) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_}), "token-not-needed-for-reflection"));
  ExpectReflectionDescribesAdmin<admin::ReflectionV1Alpha>(admin_channel_);
  ExpectReflectionDescribesAdmin<admin::ReflectionV1>(admin_channel_);
}

TEST_F(AdminTest, DrainServerSendsNoNewRpcsAndLetsInFlightOnesFinish) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_, &c_})));
  // An RPC held open on each backend, then a drain of a.
  auto stub = MakeStub(plane_->server().port("web"));
  struct Held {
    grpc::ClientContext context;
    test::v1::EchoRequest request;
    test::v1::EchoResponse response;
    grpc::Status status;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Held>> held;
  for (int i = 0; i < 4; ++i) {
    auto h = std::make_unique<Held>();
    h->request.set_sleep_ms(3000);
    Held* raw = h.get();
    raw->thread = std::thread(
        [&stub, raw] { raw->status = stub->Unary(&raw->context, raw->request, &raw->response); });
    held.push_back(std::move(h));
  }
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return a_.calls() + c_.calls() == 4; },
                                   absl::Seconds(10)));
  const int a_in_flight = a_.calls();
  ASSERT_GT(a_in_flight, 0) << "p2c sent all four held RPCs to c";

  av1::DrainServerRequest drain;
  drain.set_url("h2c://" + a_.address());
  av1::DrainServerResponse drained;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DrainServer(&context, drain, &drained).ok());
  }
  EXPECT_THAT(drained.services(), ElementsAre("echo"));
  EXPECT_EQ(drained.in_flight(), static_cast<uint64_t>(a_in_flight));

  for (int i = 0; i < 20; ++i) EXPECT_EQ(ServedBy(), "c");
  EXPECT_EQ(a_.calls(), a_in_flight);

  {
    grpc::ClientContext context;
    av1::ListServersResponse list;
    ASSERT_TRUE(stub_->ListServers(&context, {}, &list).ok());
    ASSERT_EQ(list.servers_size(), 2);
    for (const av1::ServerStatus& s : list.servers()) {
      EXPECT_EQ(s.drained(), s.url() == drain.url()) << s.url();
      EXPECT_EQ(s.usable(), s.url() != drain.url()) << s.url();
    }
  }

  for (auto& h : held) {
    h->thread.join();
    EXPECT_TRUE(h->status.ok()) << h->status.error_message();
  }

  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UndrainServer(&context, drain, &drained).ok());
  }
  bool a_again = false;
  for (int i = 0; i < 50 && !a_again; ++i) a_again = ServedBy() == "a";
  EXPECT_TRUE(a_again);

  drain.set_url("h2c://127.0.0.1:1");
  grpc::ClientContext context;
  EXPECT_EQ(stub_->DrainServer(&context, drain, &drained).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// Reads Watch events on its own thread.
class WatchReader {
 public:
  explicit WatchReader(av1::Admin::Stub& stub) : reader_(stub.Watch(&context_, {})) {
    thread_ = std::thread([this] {
      av1::WatchEvent event;
      while (reader_->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
    });
  }
  ~WatchReader() {
    context_.TryCancel();
    thread_.join();
    reader_->Finish();
  }
  // Waits (bounded) until an event of `kind` has come; all events so far.
  std::vector<av1::WatchEvent> WaitFor(av1::WatchEvent::Kind kind, int count = 1) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      int n = 0;
      for (const auto& e : events_) n += e.kind() == kind;
      return n >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(20));
    return events_;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<av1::WatchEvent>> reader_;
  absl::Mutex mu_;
  std::vector<av1::WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

std::vector<av1::WatchEvent::Kind> Kinds(const std::vector<av1::WatchEvent>& events) {
  std::vector<av1::WatchEvent::Kind> kinds;
  for (const auto& e : events) kinds.push_back(e.kind());
  return kinds;
}

TEST_F(AdminTest, WatchStartsWithTheStateThenDeliversChangesInOrder) {
  // b is health-checked (Watch): its flip must reach the admin Watch.
  ASSERT_NO_FATAL_FAILURE(Start(absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {all: {rule: "PathPrefix(`/`)", service: echo}}
services:
  echo:
    loadBalancer:
      servers: )yaml", ServersYaml({&a_, &b_}), R"yaml(
      healthCheck: {mode: grpc, watch: true, interval: 1s}
)yaml")));
  WatchReader watch(*stub_);
  std::vector<av1::WatchEvent> events = watch.WaitFor(av1::WatchEvent::SYNCED);
  using K = av1::WatchEvent;
  ASSERT_THAT(Kinds(events), ElementsAre(K::CONFIG_APPLIED, K::SERVER_STATE, K::SERVER_STATE,
                                         K::SYNCED));
  EXPECT_EQ(events[0].version(), 1u);
  EXPECT_EQ(events[0].origin().kind(), av1::Origin::FILE);
  EXPECT_THAT(events[1].services(), ElementsAre("echo"));

  // A config version, a health flip and a drain, in that order.
  av1::ChangeResponse changed;
  config::v1::Service service = ServiceOf({&a_, &b_});
  service.mutable_load_balancer()->mutable_health_check()->set_mode("grpc");
  service.mutable_load_balancer()->mutable_health_check()->set_watch(true);
  service.mutable_load_balancer()->mutable_health_check()->mutable_interval()->set_seconds(1);
  service.mutable_load_balancer()->mutable_servers(0)->set_weight(2);
  ASSERT_TRUE(UpsertService("echo", service, &changed).ok());
  watch.WaitFor(K::CONFIG_APPLIED, 2);

  b_.SetServing("", false);
  watch.WaitFor(K::HEALTH_CHANGED);

  av1::DrainServerRequest drain;
  drain.set_url("h2c://" + a_.address());
  av1::DrainServerResponse drained;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->DrainServer(&context, drain, &drained).ok());
  events = watch.WaitFor(K::DRAIN_CHANGED);

  std::vector<av1::WatchEvent> live(events.begin() + 4, events.end());
  ASSERT_THAT(Kinds(live), ElementsAre(K::CONFIG_APPLIED, K::HEALTH_CHANGED, K::DRAIN_CHANGED));
  EXPECT_EQ(live[0].version(), 2u);
  EXPECT_EQ(live[0].origin().detail(), "UpsertService services.echo");
  EXPECT_EQ(live[1].url(), "h2c://" + b_.address());
  EXPECT_FALSE(live[1].healthy());
  EXPECT_EQ(live[2].url(), drain.url());
  EXPECT_TRUE(live[2].drained());
}

TEST_F(AdminTest, ReloadFromFileAppliesTheFileOrKeepsTheRunningConfig) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_})));
  av1::ChangeResponse changed;

  WriteConfig("entryPoints: {web: {adress: x}}\n");
  {
    grpc::ClientContext context;
    grpc::Status bad = stub_->ReloadFromFile(&context, {}, &changed);
    EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(bad.error_message(), HasSubstr(config_path_));
    EXPECT_THAT(bad.error_message(), HasSubstr("entryPoints.web.adress"));
  }
  EXPECT_EQ(ServedBy(), "a");
  EXPECT_EQ(Version(), 1u);

  WriteConfig(Yaml({&c_}));
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ReloadFromFile(&context, {}, &changed).ok());
  EXPECT_EQ(changed.version(), 2u);
  EXPECT_EQ(ServedBy(), "c");
}

// A bad file seen by inotify is admin_process_test's (it reads the log).
TEST_F(AdminTest, AChangedFileIsReloadedByInotify) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_}), "", /*watch=*/true));
  WatchReader watch(*stub_);
  watch.WaitFor(av1::WatchEvent::SYNCED);
  EXPECT_EQ(ServedBy(), "a");
  // Rename-over, as editors and tools replace files.
  std::string next = dir_ + "/next.yaml";
  std::ofstream(next) << Yaml({&c_});
  std::filesystem::rename(next, config_path_);
  std::vector<av1::WatchEvent> events = watch.WaitFor(av1::WatchEvent::CONFIG_APPLIED, 2);
  ASSERT_EQ(events.back().kind(), av1::WatchEvent::CONFIG_APPLIED);
  EXPECT_EQ(events.back().version(), 2u);
  EXPECT_EQ(events.back().origin().kind(), av1::Origin::FILE);
  EXPECT_EQ(ServedBy(), "c");
}

TEST_F(AdminTest, AnEntryPointAddedAndRemovedThroughAdmin) {
  ASSERT_NO_FATAL_FAILURE(Start(Yaml({&a_})));
  av1::UpsertEntryPointRequest add;
  add.set_name("more");
  add.mutable_entry_point()->set_address("127.0.0.1:0");
  av1::ChangeResponse changed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UpsertEntryPoint(&context, add, &changed).ok());
  }
  const int port = plane_->server().port("more");
  ASSERT_GT(port, 0);
  {
    auto stub = MakeStub(port);
    grpc::ClientContext context;
    test::v1::EchoResponse response;
    ASSERT_TRUE(stub->Unary(&context, {}, &response).ok());
    EXPECT_EQ(response.backend_name(), "a");
  }
  av1::DeleteRequest remove;
  remove.set_name("more");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DeleteEntryPoint(&context, remove, &changed).ok());
  }
  EXPECT_EQ(plane_->server().port("more"), -1);
  EXPECT_EQ(ServedBy(), "a");
}

}  // namespace
}  // namespace strait::testing
