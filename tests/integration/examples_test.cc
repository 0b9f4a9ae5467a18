// The examples under examples/: every strait configuration there passes
// `strait --check`, every grpcurl body in their READMEs fits its method, and
// each example directory's strait.yaml serves real RPCs through the strait
// binary between real greeter_server processes (the admin scripts run too).
// The example files
// are read as they are, with only their fixed ports (greeters on 5005x, strait
// on 8080/8443) replaced by ports picked at run time, so an edit to an
// example that breaks what its README promises fails here.
#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin_json_call.h"
#include "tests/integration/greeter_process.h"
#include "tests/integration/strait_process.h"
#include "tests/support/peer_process.h"

namespace strait::testing {
namespace {

namespace av1 = ::strait::admin::v1;
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const fs::path kExamples = fs::path(STRAIT_SOURCE_DIR) / "examples";

std::string ReadText(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Whether `text` is a strait configuration rather than another tool's YAML
// (prometheus.yml, docker-compose files, which have `services:` too): a
// top-level `entryPoints` key, in YAML or JSON.
bool IsStraitConfig(const std::string& text) {
  static const std::regex kEntryPoints(R"((^|\n)entryPoints:|"entryPoints"\s*:)");
  return std::regex_search(text, kEntryPoints);
}

// Every strait configuration under examples/, found by walking the tree
// now, relative to examples/ and sorted.
std::vector<std::string> ExampleConfigs() {
  std::vector<std::string> found;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(kExamples)) {
    const std::string ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml" && ext != ".json")) continue;
    if (IsStraitConfig(ReadText(entry.path()))) {
      found.push_back(fs::relative(entry.path(), kExamples).string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// A temporary directory, removed with what it holds.
class ScratchDir {
 public:
  ScratchDir() {
    char dir[] = "/tmp/strait-examples-XXXXXX";
    if (mkdtemp(dir) != nullptr) path_ = dir;
  }
  ~ScratchDir() {
    if (!path_.empty()) fs::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs examples/tls/make-certs.sh DIR (openssl, as a user would); its exit
// code, its output in `output`.
int MakeCerts(const std::string& dir, std::string* output) {
  PeerProcess script({"bash", (kExamples / "tls" / "make-certs.sh").string(), dir});
  PeerProcess::Exit exit = script.WaitForExit(absl::Seconds(60));
  *output = exit.output;
  return exit.exited ? exit.code : -1;
}

// `strait --check FILE` run from `cwd`: relative paths in FILE (the tls
// example's certificates) resolve there, as they would for a user who runs
// strait from that directory.
int CheckFrom(const std::string& cwd, const std::string& file, std::string* output) {
  PeerProcess check(
      {"/bin/sh", "-c", "cd \"$0\" && exec \"$1\" --check \"$2\"", cwd, STRAIT_BINARY, file});
  PeerProcess::Exit exit = check.WaitForExit(absl::Seconds(60));
  *output = exit.output;
  return exit.exited ? exit.code : -1;
}

// One scratch directory with the certificates of make-certs.sh in certs/,
// for every --check: the tls example names them as certs/server.crt.
class ExampleCheckTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir;
    std::string output;
    ASSERT_EQ(MakeCerts(dir_->path() + "/certs", &output), 0) << output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static ScratchDir* dir_;
};
ScratchDir* ExampleCheckTest::dir_ = nullptr;

TEST_P(ExampleCheckTest, PassesCheck) {
  std::string output;
  EXPECT_EQ(CheckFrom(dir_->path(), (kExamples / GetParam()).string(), &output), 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr(": ok")) << output;
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleCheckTest, ::testing::ValuesIn(ExampleConfigs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The tests above were listed when the binary was built; this one walks the
// tree again now, so that a configuration added since (examples/compose*)
// is checked too, and makes sure the walk finds the ones we know of.
TEST_F(ExampleCheckTest, EveryConfigFoundNowPassesCheck) {
  const std::vector<std::string> configs = ExampleConfigs();
  for (const char* known :
       {"strait.yaml", "basic/strait.yaml", "canary/strait.yaml", "mirroring/strait.yaml",
        "failover/strait.yaml", "sticky/strait.yaml", "tls/strait.yaml", "admin/strait.yaml"}) {
    EXPECT_NE(std::find(configs.begin(), configs.end(), known), configs.end()) << known;
  }
  for (const char* not_strait : {"observability/prometheus.yml"}) {
    EXPECT_EQ(std::find(configs.begin(), configs.end(), not_strait), configs.end()) << not_strait;
  }
  for (const std::string& config : configs) {
    std::string output;
    EXPECT_EQ(CheckFrom(dir_->path(), (kExamples / config).string(), &output), 0)
        << config << ": " << output;
  }
}

// The check is real: without the certificates the tls example fails, naming
// the file, because its paths are relative to the working directory (and
// not to the config file, which sits beside no certs/).
TEST_F(ExampleCheckTest, TlsExampleNeedsItsCertificatesInTheWorkingDirectory) {
  ScratchDir empty;
  std::string output;
  EXPECT_NE(CheckFrom(empty.path(), (kExamples / "tls/strait.yaml").string(), &output), 0);
  EXPECT_THAT(output, ::testing::HasSubstr("certs/server.crt: No such file or directory"));
}

// Every grpcurl call with a JSON body in an example's README or in docs/
// (`-d '{...}' HOST:PORT pkg.Service/Method`) fits its method's request
// message, as grpcurl would read it (unknown fields, wrong types fail).
TEST(ExampleReadmeTest, EveryGrpcurlBodyFitsItsMethod) {
  static const std::regex kCall(R"(-d '([^']*)'[\s\\]*[\w.-]+:\d+ ([\w.]+)/(\w+))");
  std::vector<fs::path> texts;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(kExamples)) {
    if (entry.path().filename() == "README.md") texts.push_back(entry.path());
  }
  for (const fs::directory_entry& entry :
       fs::directory_iterator(kExamples.parent_path() / "docs")) {
    if (entry.path().extension() == ".md") texts.push_back(entry.path());
  }
  int calls = 0, in_docs = 0;
  for (const fs::path& path : texts) {
    const std::string readme = ReadText(path);
    for (std::sregex_iterator it(readme.begin(), readme.end(), kCall), end; it != end; ++it) {
      const std::string json = (*it)[1], method = absl::StrCat((*it)[2].str(), ".", (*it)[3].str());
      SCOPED_TRACE(absl::StrCat(path.string(), ": ", method, " ", json));
      const google::protobuf::MethodDescriptor* descriptor =
          google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(method);
      ASSERT_NE(descriptor, nullptr) << "no such method";
      std::unique_ptr<google::protobuf::Message> request(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(descriptor->input_type())
              ->New());
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, request.get()).ok());
      ++calls;
      in_docs += path.parent_path().filename() == "docs";
    }
  }
  // The READMEs of basic, canary, mirroring, failover, tls and admin have 8;
  // docs/admin.md has one per admin RPC that takes a body.
  EXPECT_GE(calls - in_docs, 8);
  EXPECT_GE(in_docs, 12);
}

// The example's strait.yaml with each fixed address replaced; every one of
// them must be in the file (so that a changed example fails here instead of
// reaching a real server on a fixed port).
std::string Rebind(const std::string& example,
                   const std::vector<std::pair<std::string, std::string>>& replacements) {
  std::string text = ReadText(kExamples / example / "strait.yaml");
  for (const auto& [from, to] : replacements) {
    EXPECT_NE(text.find(from), std::string::npos) << example << " names no " << from;
  }
  return absl::StrReplaceAll(text, replacements);
}

// The greeter's name from "Hello NAME from SERVER", or the error. With a
// `user`, the RPC carries it as x-user-id metadata.
std::string SayHello(helloworld::Greeter::Stub& stub, const std::string& name = "test",
                     const std::string& user = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!user.empty()) context.AddMetadata("x-user-id", user);
  helloworld::HelloRequest request;
  request.set_name(name);
  helloworld::HelloReply reply;
  grpc::Status status = stub.SayHello(&context, request, &reply);
  if (!status.ok()) {
    return absl::StrCat("error ", status.error_code(), ": ", status.error_message());
  }
  const std::string prefix = "Hello " + name + " from ";
  if (reply.message().rfind(prefix, 0) != 0) return "unexpected reply: " + reply.message();
  return reply.message().substr(prefix.size());
}

// How many of `n` RPCs over one connection each greeter answered.
std::map<std::string, int> Split(helloworld::Greeter::Stub& stub, int n) {
  std::map<std::string, int> by_server;
  for (int i = 0; i < n; ++i) ++by_server[SayHello(stub)];
  return by_server;
}

// With `own_connection`, the channel does not share gRPC's process-wide
// subchannels: a connection of its own, which may land on another worker.
std::unique_ptr<helloworld::Greeter::Stub> GreeterStub(int port, bool own_connection = false) {
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return helloworld::Greeter::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
}

// The admin service of a StraitProcess, called as grpcurl would: a method
// name and a JSON body (protobuf's JSON mapping), with the bearer token if
// there is one.
class AdminClient {
 public:
  AdminClient(int port, std::string token = "")
      : stub_(av1::Admin::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                      grpc::InsecureChannelCredentials()))),
        token_(std::move(token)) {}

  // Calls `method` with `json`; the response as the message, or the status.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (av1::Admin::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                          Response*),
                    const std::string& json, Response* response) {
    Request request;
    auto parsed = google::protobuf::util::JsonStringToMessage(json, &request);
    if (!parsed.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("bad JSON ", json, ": ", parsed.ToString()));
    }
    grpc::ClientContext context;
    Prepare(context);
    return (stub_.get()->*rpc)(&context, request, response);
  }

  // Any unary admin call by method name, as the examples' scripts and
  // READMEs make them.
  grpc::Status Call(const std::string& method, const std::string& json) {
    grpc::ClientContext context;
    Prepare(context);
    std::optional<AdminJsonReply> reply = CallAdminJson(*stub_, context, method, json);
    if (!reply) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "the test does not call " + method);
    }
    if (!reply->bad_request.empty()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("bad JSON ", json, ": ", reply->bad_request));
    }
    return reply->status;
  }

  // Admin/Watch, read until its SYNCED event (the current state is sent).
  std::unique_ptr<grpc::ClientReader<av1::WatchEvent>> Watch(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
    std::unique_ptr<grpc::ClientReader<av1::WatchEvent>> events =
        stub_->Watch(context, av1::WatchRequest());
    av1::WatchEvent event;
    while (events->Read(&event) && event.kind() != av1::WatchEvent::SYNCED) {
    }
    return events;
  }

  uint64_t Version() {
    av1::GetConfigResponse config;
    EXPECT_TRUE(Call(&av1::Admin::Stub::GetConfig, "{}", &config).ok());
    return config.version();
  }

 private:
  // A 30 s deadline, and the bearer token if there is one.
  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  }

  std::unique_ptr<av1::Admin::Stub> stub_;
  std::string token_;
};

// The grpcurl calls of a README: each `-d 'JSON' ADDRESS
// strait.admin.v1.Admin/METHOD`, in order, as {METHOD, JSON}.
std::vector<std::pair<std::string, std::string>> ReadmeAdminCalls(const std::string& example) {
  const std::string readme = ReadText(kExamples / example / "README.md");
  static const std::regex kCall(
      R"(-d '([^']*)'[\s\\]*127\.0\.0\.1:9901 strait\.admin\.v1\.Admin/(\w+))");
  std::vector<std::pair<std::string, std::string>> calls;
  for (std::sregex_iterator it(readme.begin(), readme.end(), kCall), end; it != end; ++it) {
    calls.push_back({(*it)[2], (*it)[1]});
  }
  return calls;
}

// basic: round robin over two greeters, health checks on.
TEST(ExamplesTest, BasicAlternatesBetweenBothGreeters) {
  Greeter a("a"), b("b");
  ASSERT_TRUE(a.started() && b.started());
  StraitProcess strait(Rebind("basic", {{"127.0.0.1:8080", "127.0.0.1:0"},
                                        {"127.0.0.1:50051", a.address()},
                                        {"127.0.0.1:50052", b.address()}}),
                       {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  auto stub = GreeterStub(strait.port("web"));
  std::vector<std::string> answers;
  for (int i = 0; i < 10; ++i) answers.push_back(SayHello(*stub));
  const std::string first = answers[0];
  ASSERT_TRUE(first == "a" || first == "b") << first;
  const std::string second = first == "a" ? "b" : "a";
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i], i % 2 == 0 ? first : second) << "RPC " << i;
  }
}

// canary: 90/10 by smooth weighted round robin, exact on one worker; then
// the README's grpcurl shifts, applied through the admin service.
TEST(ExamplesTest, CanarySplitsExactlyAndShiftsThroughTheAdminApi) {
  Greeter stable("stable"), canary("canary");
  ASSERT_TRUE(stable.started() && canary.started());
  StraitProcess strait(Rebind("canary", {{"127.0.0.1:8080", "127.0.0.1:0"},
                                         {"127.0.0.1:50051", stable.address()},
                                         {"127.0.0.1:50052", canary.address()}}),
                       {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  auto stub = GreeterStub(strait.port("web"));
  EXPECT_EQ(Split(*stub, 200), (std::map<std::string, int>{{"stable", 180}, {"canary", 20}}));

  // The README: GetConfig, 50/50, then all to the canary if the version is
  // still 2, then GetStats.
  std::vector<std::pair<std::string, std::string>> calls = ReadmeAdminCalls("canary");
  std::vector<std::string> methods;
  for (const auto& call : calls) methods.push_back(call.first);
  ASSERT_THAT(methods, ElementsAre("UpsertService", "UpsertService", "GetStats"));
  AdminClient admin(strait.admin_port());
  ASSERT_EQ(admin.Version(), 1u);
  const std::vector<std::map<std::string, int>> after = {
      {{"stable", 100}, {"canary", 100}},
      {{"canary", 200}},
  };
  for (size_t i = 0; i < 2; ++i) {
    grpc::Status status = admin.Call(calls[i].first, calls[i].second);
    ASSERT_TRUE(status.ok()) << calls[i].second << ": " << status.error_message();
    EXPECT_EQ(Split(*stub, 200), after[i]) << "after " << calls[i].second;
  }
  // Applying the second one again: version 3 runs, not 2.
  grpc::Status stale = admin.Call(calls[1].first, calls[1].second);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << stale.error_message();
  EXPECT_TRUE(admin.Call(calls[2].first, calls[2].second).ok());
}

// tls: make-certs.sh's CA verifies strait's certificate (by its IP SAN);
// plaintext and a client that does not trust that CA get nothing.
TEST(ExamplesTest, TlsServesWithTheScriptsCertificatesOnly) {
  ScratchDir dir;
  const std::string certs = dir.path() + "/certs";
  std::string output;
  ASSERT_EQ(MakeCerts(certs, &output), 0) << output;
  Greeter a("a"), b("b");
  ASSERT_TRUE(a.started() && b.started());
  // The relative paths would resolve in the test's working directory: point
  // them at the scratch directory instead.
  StraitProcess strait(Rebind("tls", {{"127.0.0.1:8443", "127.0.0.1:0"},
                                      {"127.0.0.1:50051", a.address()},
                                      {"127.0.0.1:50052", b.address()},
                                      {"certs/server.", certs + "/server."}}),
                       {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  const std::string target = absl::StrCat("127.0.0.1:", strait.port("websecure"));

  grpc::SslCredentialsOptions trusted;
  trusted.pem_root_certs = ReadText(certs + "/ca.crt");
  ASSERT_FALSE(trusted.pem_root_certs.empty());
  auto tls =
      helloworld::Greeter::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(trusted)));
  EXPECT_EQ(Split(*tls, 4), (std::map<std::string, int>{{"a", 2}, {"b", 2}}));

  auto plaintext =
      helloworld::Greeter::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  EXPECT_THAT(SayHello(*plaintext), ::testing::StartsWith("error 14:"));

  // Another run of the script: another CA, which does not sign strait's
  // certificate.
  ASSERT_EQ(MakeCerts(dir.path() + "/other", &output), 0) << output;
  grpc::SslCredentialsOptions other;
  other.pem_root_certs = ReadText(dir.path() + "/other/ca.crt");
  auto untrusted =
      helloworld::Greeter::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(other)));
  EXPECT_THAT(SayHello(*untrusted), ::testing::StartsWith("error 14:"));
}

// The StraitProcess fixture waits for the entry points the parser finds,
// not for every "address:" in the text.
TEST(ExamplesTest, ACommentSayingAddressDoesNotHoldUpTheStart) {
  Greeter a("a"), b("b");
  ASSERT_TRUE(a.started() && b.started());
  StraitProcess strait(Rebind("basic", {{"127.0.0.1:8080", "127.0.0.1:0"},
                                        {"127.0.0.1:50051", a.address()},
                                        {"127.0.0.1:50052", b.address()}}) +
                       "# a second entry point would need its own address: 127.0.0.1:8081\n");
  ASSERT_TRUE(strait.started());
  auto stub = GreeterStub(strait.port("web"));
  EXPECT_EQ(Split(*stub, 2), (std::map<std::string, int>{{"a", 1}, {"b", 1}}));
}

// failover: greeter main answers while its grpc.health.v1 (watched) says
// SERVING; SIGUSR1 flips it, and RPCs go to the fallback until it flips back.
TEST(ExamplesTest, FailoverFollowsTheMainGreetersHealth) {
  Greeter main("main"), fallback("fallback");
  ASSERT_TRUE(main.started() && fallback.started());
  StraitProcess strait(Rebind("failover", {{"127.0.0.1:8080", "127.0.0.1:0"},
                                           {"127.0.0.1:50051", main.address()},
                                           {"127.0.0.1:50052", fallback.address()}}),
                       {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  auto stub = GreeterStub(strait.port("web"));
  EXPECT_EQ(Split(*stub, 3), (std::map<std::string, int>{{"main", 3}}));

  AdminClient admin(strait.admin_port());
  grpc::ClientContext watch_context;
  auto events = admin.Watch(&watch_context);
  // Waits (bounded by the Watch deadline) for strait to see main's health.
  auto wait_for_main = [&](bool healthy) {
    av1::WatchEvent event;
    while (events->Read(&event)) {
      if (event.kind() == av1::WatchEvent::HEALTH_CHANGED && event.url() == main.url() &&
          event.healthy() == healthy) {
        return true;
      }
    }
    return false;
  };
  main.FlipHealth();
  ASSERT_TRUE(wait_for_main(false));
  EXPECT_EQ(Split(*stub, 3), (std::map<std::string, int>{{"fallback", 3}}));
  main.FlipHealth();
  ASSERT_TRUE(wait_for_main(true));
  EXPECT_EQ(Split(*stub, 3), (std::map<std::string, int>{{"main", 3}}));
  // The README's last word: a stopped main fails over too.
  main.Stop();
  ASSERT_TRUE(wait_for_main(false));
  EXPECT_EQ(Split(*stub, 3), (std::map<std::string, int>{{"fallback", 3}}));
  watch_context.TryCancel();
}

// mirroring: greeters a and b answer every RPC; a copy of exactly every
// second one (50%, by the worker's counter) reaches the shadow, whose
// answers are dropped. The README's GetStats call shows it.
TEST(ExamplesTest, MirroringCopiesHalfTheRpcsToTheShadow) {
  Greeter a("a"), b("b"), shadow("shadow");
  ASSERT_TRUE(a.started() && b.started() && shadow.started());
  StraitProcess strait(Rebind("mirroring", {{"127.0.0.1:8080", "127.0.0.1:0"},
                                            {"127.0.0.1:50051", a.address()},
                                            {"127.0.0.1:50052", b.address()},
                                            {"127.0.0.1:50053", shadow.address()}}),
                       {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  auto stub = GreeterStub(strait.port("web"));
  std::map<std::string, int> split = Split(*stub, 10);
  EXPECT_EQ(split["a"] + split["b"], 10) << ::testing::PrintToString(split);

  std::vector<std::pair<std::string, std::string>> calls = ReadmeAdminCalls("mirroring");
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_EQ(calls[0].first, "GetStats");
  AdminClient admin(strait.admin_port());
  // Copies finish after the RPCs they copy: poll, within a deadline.
  av1::GetStatsResponse stats;
  auto completed = [&]() -> uint64_t {
    const auto& copies = stats.process().mirror_copies_by_result();
    auto it = copies.find("completed");
    return it == copies.end() ? 0 : it->second;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    ASSERT_TRUE(admin.Call(&av1::Admin::Stub::GetStats, calls[0].second, &stats).ok());
  } while (completed() < 5 && absl::Now() < deadline);
  EXPECT_EQ(completed(), 5u) << stats.ShortDebugString();
  // The shadow's server is listed, with its connection; mirror copies are
  // not counted in its rpcsByStatus (only in mirrorCopiesByResult).
  ASSERT_EQ(stats.servers_size(), 1);
  EXPECT_EQ(stats.servers(0).url(), shadow.url());
  EXPECT_EQ(stats.servers(0).connections(), 1u) << stats.ShortDebugString();
}

// sticky: every RPC of one x-user-id goes to one greeter; users spread.
TEST(ExamplesTest, StickyKeepsEachUserOnOneGreeter) {
  Greeter a("a"), b("b"), c("c");
  ASSERT_TRUE(a.started() && b.started() && c.started());
  StraitProcess strait(Rebind("sticky", {{"127.0.0.1:8080", "127.0.0.1:0"},
                                         {"127.0.0.1:50051", a.address()},
                                         {"127.0.0.1:50052", b.address()},
                                         {"127.0.0.1:50053", c.address()}}));
  ASSERT_TRUE(strait.started());
  std::map<std::string, int> users_by_server;
  for (int u = 0; u < 30; ++u) {
    const std::string user = absl::StrCat("user-", u);
    std::map<std::string, int> by_server;
    // A connection each time, spread over the workers: the same server.
    for (int i = 0; i < 4; ++i) {
      ++by_server[SayHello(*GreeterStub(strait.port("web"), true), "test", user)];
    }
    ASSERT_EQ(by_server.size(), 1u) << user << " went to several servers";
    ++users_by_server[by_server.begin()->first];
  }
  // 30 users on 3 servers: all on fewer than two is a broken hash, not luck
  // (about 3 in 10^14 for a uniform one).
  EXPECT_GE(users_by_server.size(), 2u);
  for (const auto& [server, users] : users_by_server) {
    EXPECT_THAT(server, ::testing::AnyOf("a", "b", "c"));
  }
}

// admin: list.sh, drain-server.sh and canary-shift.sh run as they are, with
// admin_grpcurl (tests/integration/admin_grpcurl.cc) standing in for
// grpcurl, against strait with the example's config and a token.
class ExamplesAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.started() && b_.started());
    bin_dir_ = dir_.path() + "/bin";
    fs::create_directory(bin_dir_);
    fs::create_symlink(ADMIN_GRPCURL_BINARY, bin_dir_ + "/grpcurl");
    token_file_ = dir_.path() + "/token";
    std::ofstream(token_file_) << kToken << "\n";
    strait_ = std::make_unique<StraitProcess>(
        Rebind("admin", {{"127.0.0.1:8080", "127.0.0.1:0"},
                         {"h2c://127.0.0.1:50051", a_.url()},
                         {"h2c://127.0.0.1:50052", b_.url()}}),
        std::vector<std::string>{"--workers", "1", "--admin-token-file", token_file_});
    ASSERT_TRUE(strait_->started());
    stub_ = GreeterStub(strait_->port("web"));
    admin_ = std::make_unique<AdminClient>(strait_->admin_port(), kToken);
  }

  // Runs examples/admin/SCRIPT ARGS with ADMIN and TOKEN set for this
  // strait, `env` (NAME=VALUE) on top, and admin_grpcurl as grpcurl.
  PeerProcess::Exit RunScript(const std::string& script, const std::vector<std::string>& env,
                              const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv = {"env", "PATH=" + bin_dir_ + ":" + getenv("PATH"),
                                     absl::StrCat("ADMIN=127.0.0.1:", strait_->admin_port()),
                                     absl::StrCat("TOKEN=", kToken)};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back("bash");
    argv.push_back((kExamples / "admin" / script).string());
    argv.insert(argv.end(), args.begin(), args.end());
    PeerProcess run(argv);
    return run.WaitForExit(absl::Seconds(120));
  }

  static constexpr char kToken[] = "example-token";
  Greeter a_{"a"}, b_{"b"};
  ScratchDir dir_;
  std::string token_file_;
  std::string bin_dir_;  // holds `grpcurl`: admin_grpcurl
  std::unique_ptr<StraitProcess> strait_;
  std::unique_ptr<helloworld::Greeter::Stub> stub_;
  std::unique_ptr<AdminClient> admin_;
};

TEST_F(ExamplesAdminTest, AdminCallsNeedTheToken) {
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    AdminClient anonymous(strait_->admin_port(), token);
    EXPECT_EQ(anonymous.Call("GetConfig", "{}").error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "token \"" << token << "\"";
  }
}

// list.sh: GetConfig, then ListServers of one service.
TEST_F(ExamplesAdminTest, ListShowsTheVersionAndEveryServer) {
  av1::GetConfigResponse config;
  ASSERT_TRUE(admin_->Call(&av1::Admin::Stub::GetConfig, "{}", &config).ok());
  EXPECT_EQ(config.version(), 1u);
  EXPECT_EQ(config.origin().kind(), av1::Origin::FILE);
  EXPECT_TRUE(config.config().services().contains("greeter"));
  av1::ListServersResponse servers;
  ASSERT_TRUE(
      admin_->Call(&av1::Admin::Stub::ListServers, R"({"service": "greeter"})", &servers).ok());
  std::vector<std::string> urls;
  for (const av1::ServerStatus& s : servers.servers()) {
    urls.push_back(s.url());
    EXPECT_TRUE(s.usable() && s.healthy() && s.health_checked()) << s.ShortDebugString();
  }
  EXPECT_THAT(urls, UnorderedElementsAre(a_.url(), b_.url()));
}

// drain-server.sh URL, as it is (grpcurl being admin_grpcurl): no new RPC
// for the server, the script's wait for its in-flight ones; then UNDRAIN=1.
TEST_F(ExamplesAdminTest, DrainServerScriptSendsEveryRpcToTheOtherServer) {
  EXPECT_EQ(Split(*stub_, 10), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));
  PeerProcess::Exit drain = RunScript("drain-server.sh", {}, {a_.url()});
  ASSERT_EQ(drain.code, 0) << drain.output;
  EXPECT_THAT(drain.output, ::testing::HasSubstr(a_.url() + " is drained"));
  EXPECT_THAT(drain.output, ::testing::HasSubstr(R"("greeter")"));  // DrainServer's services
  EXPECT_EQ(Split(*stub_, 10), (std::map<std::string, int>{{"b", 10}}));

  PeerProcess::Exit undrain = RunScript("drain-server.sh", {"UNDRAIN=1"}, {a_.url()});
  ASSERT_EQ(undrain.code, 0) << undrain.output;
  EXPECT_EQ(Split(*stub_, 10), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));
}

// canary-shift.sh with STABLE=a, CANARY=b, one step at a time (PAUSE=0: no
// sleep), then ROLLBACK=1: `greeter` becomes weighted over two new load
// balancers, and the split follows each step exactly.
TEST_F(ExamplesAdminTest, CanaryShiftScriptMovesTheSplitStepByStep) {
  const std::vector<std::string> servers = {"STABLE=" + a_.url(), "CANARY=" + b_.url(), "PAUSE=0"};
  for (int percent : {10, 50}) {
    std::vector<std::string> env = servers;
    env.push_back(absl::StrCat("STEPS=", percent));
    PeerProcess::Exit shift = RunScript("canary-shift.sh", env);
    ASSERT_EQ(shift.code, 0) << shift.output;
    EXPECT_THAT(shift.output, ::testing::HasSubstr(absl::StrCat("canary at ", percent, "%")));
    EXPECT_EQ(Split(*stub_, 100),
              (std::map<std::string, int>{{"a", 100 - percent}, {"b", percent}}))
        << "canary at " << percent << "%";
  }
  std::vector<std::string> env = servers;
  env.push_back("ROLLBACK=1");
  PeerProcess::Exit rollback = RunScript("canary-shift.sh", env);
  ASSERT_EQ(rollback.code, 0) << rollback.output;
  EXPECT_EQ(Split(*stub_, 100), (std::map<std::string, int>{{"a", 100}}));
}

// list.sh: the version and origin, then every server; without the token it
// fails.
TEST_F(ExamplesAdminTest, ListScriptShowsTheVersionAndEveryServer) {
  PeerProcess::Exit list = RunScript("list.sh", {}, {"greeter"});
  ASSERT_EQ(list.code, 0) << list.output;
  EXPECT_THAT(list.output, ::testing::HasSubstr("version 1 from FILE"));
  EXPECT_THAT(list.output, ::testing::HasSubstr(a_.url()));
  EXPECT_THAT(list.output, ::testing::HasSubstr(b_.url()));
  PeerProcess::Exit anonymous = RunScript("list.sh", {"TOKEN="}, {"greeter"});
  EXPECT_NE(anonymous.code, 0);
  EXPECT_THAT(anonymous.output, ::testing::HasSubstr("Unauthenticated"));
}

// What expectedVersion in canary-shift.sh guards against: a step computed
// from a version someone else changed since.
TEST_F(ExamplesAdminTest, AStaleExpectedVersionChangesNothing) {
  const uint64_t version = admin_->Version();
  av1::ChangeResponse changed;
  const std::string upsert =
      absl::StrCat(R"({"name": "greeter", "service": {"loadBalancer": {"servers": [{"url": ")",
                   b_.url(), R"("}]}}, "options": {"expectedVersion": ")", version, R"("}})");
  ASSERT_TRUE(admin_->Call(&av1::Admin::Stub::UpsertService, upsert, &changed).ok());
  grpc::Status stale = admin_->Call(&av1::Admin::Stub::UpsertService, upsert, &changed);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << stale.error_message();
  EXPECT_EQ(admin_->Version(), version + 1);
}

}  // namespace
}  // namespace strait::testing
