// The README's 5-minute tour, step by step, against what it runs: the demo's
// examples/strait.yaml (its ports swapped for ones picked at run time), two
// real greeter_server processes and the strait binary. The admin calls are
// the README's own grpcurl request bodies, parsed from README.md in the order
// it gives them, so a tour that drifts from the admin API or from what strait
// does fails here.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin_json_call.h"
#include "tests/integration/greeter_process.h"
#include "tests/integration/strait_process.h"
#include "tests/support/health_backend.h"

namespace strait::testing {
namespace {

namespace admin_v1 = ::strait::admin::v1;

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream file(std::string(STRAIT_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The README from "## A 5-minute tour" to the next "## " heading.
std::string TourSection() {
  std::string readme = ReadSourceFile("README.md");
  size_t begin = readme.find("## A 5-minute tour");
  if (begin == std::string::npos) return "";
  size_t end = readme.find("\n## ", begin + 1);
  return readme.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// One `grpcurl -plaintext -d '{...}' $A $M/Method` line of the tour.
struct AdminCall {
  std::string method;
  std::string json;
};

std::vector<AdminCall> TourAdminCalls() {
  std::vector<AdminCall> calls;
  const std::regex call(R"(grpcurl -plaintext -d '([^']*)' \$A \$M/(\w+))");
  for (absl::string_view line : absl::StrSplit(TourSection(), '\n')) {
    std::string text(line);
    std::smatch match;
    if (std::regex_search(text, match, call)) calls.push_back({match[2], match[1]});
  }
  return calls;
}

// The lines the tour shows a command printing: those after "$ COMMAND" up
// to the next "$ " line or the end of the code block.
std::vector<std::string> TourOutputOf(const std::string& command) {
  std::vector<std::string> lines = absl::StrSplit(TourSection(), '\n');
  std::vector<std::string> shown;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!absl::StartsWith(lines[i], "$ " + command)) continue;
    for (size_t j = i + 1; j < lines.size(); ++j) {
      if (absl::StartsWith(lines[j], "$ ") || absl::StartsWith(lines[j], "```")) break;
      shown.push_back(lines[j]);
    }
    break;
  }
  return shown;
}

class ReadmeTourTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.started()) << a_.output();
    ASSERT_TRUE(b_.started()) << b_.output();
    std::string config = absl::StrReplaceAll(ReadSourceFile("examples/strait.yaml"),
                                             {{"127.0.0.1:8080", "127.0.0.1:0"},
                                              {"127.0.0.1:50051", a_.address()},
                                              {"127.0.0.1:50052", b_.address()}});
    strait_ = std::make_unique<StraitProcess>(config, std::vector<std::string>{"--state", "off"});
    ASSERT_TRUE(strait_->started());
    data_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", strait_->port("web")),
                                grpc::InsecureChannelCredentials());
    admin_ = admin_v1::Admin::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", strait_->admin_port()), grpc::InsecureChannelCredentials()));
  }

  // What greeter_client --count N prints, over one channel.
  std::vector<std::string> SayHello(int count) {
    auto stub = helloworld::Greeter::NewStub(data_);
    std::vector<std::string> printed;
    for (int i = 1; i <= count; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      helloworld::HelloRequest request;
      request.set_name("world");
      helloworld::HelloReply reply;
      grpc::Status status = stub->SayHello(&context, request, &reply);
      printed.push_back(status.ok() ? absl::StrCat(i, ": ", reply.message())
                                    : absl::StrCat(i, ": error ", status.error_message()));
    }
    return printed;
  }

  // Runs the tour's next admin call, which must be `method`.
  void NextAdminCall(const std::string& method) {
    ASSERT_LT(next_call_, calls_.size()) << "the tour has no more grpcurl calls; wanted " << method;
    AdminCall call = calls_[next_call_++];
    // The demo's ports, as the greeters here got them.
    call.json = absl::StrReplaceAll(
        call.json, {{"127.0.0.1:50051", a_.address()}, {"127.0.0.1:50052", b_.address()}});
    ASSERT_EQ(call.method, method) << "the tour's calls are out of order";
    grpc::ClientContext context;
    std::optional<AdminJsonReply> reply = CallAdminJson(*admin_, context, method, call.json);
    ASSERT_TRUE(reply.has_value()) << "the tour calls " << method << ", which Admin does not have";
    ASSERT_EQ(reply->bad_request, "") << method << " " << call.json;
    const grpc::Status& status = reply->status;
    last_response_ = reply->json;
    ASSERT_TRUE(status.ok()) << method << " " << call.json << ": " << status.error_message();
  }

  Greeter a_{"a"}, b_{"b"};
  std::unique_ptr<StraitProcess> strait_;
  std::shared_ptr<grpc::Channel> data_;
  std::unique_ptr<admin_v1::Admin::Stub> admin_;
  const std::vector<AdminCall> calls_ = TourAdminCalls();
  size_t next_call_ = 0;
  std::string last_response_;  // JSON of the last admin call's answer
};

TEST_F(ReadmeTourTest, EveryStepDoesWhatTheReadmeSays) {
  ASSERT_FALSE(TourSection().empty()) << "README.md has no \"## A 5-minute tour\"";

  // 1. One connection, every RPC balanced: the output the README shows.
  std::vector<std::string> shown =
      TourOutputOf("./build/examples/greeter/greeter_client --count 4");
  ASSERT_EQ(shown.size(), 4u) << "the tour shows no greeter_client output";
  // Each worker starts its rotation at a point of its own, so the first
  // answer may come from either greeter; the alternation is what is shown.
  std::vector<std::string> swapped;
  for (const std::string& line : shown) {
    swapped.push_back(absl::EndsWith(line, "from a")   ? line.substr(0, line.size() - 1) + "b"
                      : absl::EndsWith(line, "from b") ? line.substr(0, line.size() - 1) + "a"
                                                       : line);
  }
  std::vector<std::string> printed = SayHello(4);
  EXPECT_TRUE(printed == shown || printed == swapped)
      << absl::StrJoin(printed, "\n") << "\nis not what the tour shows:\n"
      << absl::StrJoin(shown, "\n");
  {
    // `grpcurl list` through strait: reflection reaches a backend.
    auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(data_);
    grpc::ClientContext context;
    auto stream = reflection->ServerReflectionInfo(&context);
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_list_services("");
    ASSERT_TRUE(stream->Write(request));
    stream->WritesDone();
    grpc::reflection::v1alpha::ServerReflectionResponse response;
    ASSERT_TRUE(stream->Read(&response));
    std::vector<std::string> services;
    for (const auto& service : response.list_services_response().service()) {
      services.push_back(service.name());
    }
    std::sort(services.begin(), services.end());
    std::vector<std::string> listed = TourOutputOf("grpcurl -plaintext 127.0.0.1:8080 list");
    EXPECT_EQ(services, listed);
    while (stream->Read(&response)) {
    }
    EXPECT_TRUE(stream->Finish().ok());
  }

  // 2. Route a service at runtime: helloworld.Greeter to b only, then back.
  ASSERT_NO_FATAL_FAILURE(NextAdminCall("UpsertService"));
  ASSERT_NO_FATAL_FAILURE(NextAdminCall("UpsertRouter"));
  for (const std::string& line : SayHello(2)) EXPECT_TRUE(absl::EndsWith(line, "from b")) << line;
  {
    // The refusal the tour quotes, for a router naming a service that is not there.
    std::smatch quoted;
    std::string tour = TourSection();
    ASSERT_TRUE(
        std::regex_search(tour, quoted, std::regex(R"(`(routers\.greeter-api\.service: [^`]*)`)")));
    admin_v1::UpsertRouterRequest request;
    request.set_name("greeter-api");
    request.mutable_router()->set_rule("GRPCService(`helloworld.Greeter`)");
    request.mutable_router()->set_service("only-c");
    grpc::ClientContext context;
    admin_v1::ChangeResponse response;
    grpc::Status refused = admin_->UpsertRouter(&context, request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(refused.error_message().find(quoted[1].str()), std::string::npos)
        << refused.error_message() << "\nis not what the tour quotes: " << quoted[1];
    for (const std::string& line : SayHello(2)) EXPECT_TRUE(absl::EndsWith(line, "from b")) << line;
  }
  ASSERT_NO_FATAL_FAILURE(NextAdminCall("DeleteRouter"));
  std::vector<std::string> after = SayHello(2);
  EXPECT_NE(after[0].back(), after[1].back()) << "alternating again after DeleteRouter";

  // 3. Fail over: a says NOT_SERVING, every RPC goes to b; ListServers says
  //    why; SERVING again brings it back.
  a_.FlipHealth();
  ASSERT_TRUE(a_.WaitForLine("greeter a health NOT_SERVING", absl::Seconds(10)));
  ASSERT_TRUE(strait_->WaitForOutput("reported NOT_SERVING"));
  for (const std::string& line : SayHello(4)) EXPECT_TRUE(absl::EndsWith(line, "from b")) << line;
  ASSERT_NO_FATAL_FAILURE(NextAdminCall("ListServers"));
  EXPECT_NE(last_response_.find("NOT_SERVING"), std::string::npos) << last_response_;
  a_.FlipHealth();
  ASSERT_TRUE(strait_->WaitForOutput("reported SERVING"));
  std::vector<std::string> back = SayHello(2);
  EXPECT_NE(back[0].back(), back[1].back()) << "a back in the rotation";

  // 4. The canary at 50% (canary-shift.sh's last step with STEPS="10 50"):
  //    the weighted service the script writes, through the same admin API.
  for (const auto& [name, url] :
       {std::pair{"greeter-stable", a_.address()}, std::pair{"greeter-canary", b_.address()}}) {
    admin_v1::UpsertServiceRequest request;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    absl::StrCat(R"({"name": ")", name,
                                 R"(", "service": {"loadBalancer": {"servers": [{"url": "h2c://)",
                                 url, R"("}]}}})"),
                    &request)
                    .ok());
    grpc::ClientContext context;
    admin_v1::ChangeResponse response;
    ASSERT_TRUE(admin_->UpsertService(&context, request, &response).ok());
  }
  {
    admin_v1::UpsertServiceRequest request;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    R"({"name": "greeter", "service": {"weighted": {"services": [
                        {"name": "greeter-stable", "weight": 50},
                        {"name": "greeter-canary", "weight": 50}]}}})",
                    &request)
                    .ok());
    grpc::ClientContext context;
    admin_v1::ChangeResponse response;
    ASSERT_TRUE(admin_->UpsertService(&context, request, &response).ok());
  }
  int from_a = 0, from_b = 0;
  for (const std::string& line : SayHello(10)) {
    from_a += absl::EndsWith(line, "from a");
    from_b += absl::EndsWith(line, "from b");
  }
  EXPECT_EQ(from_a, 5);
  EXPECT_EQ(from_b, 5);
  ASSERT_NO_FATAL_FAILURE(NextAdminCall("GetStats"));
  EXPECT_NE(last_response_.find(R"("greeter":{"rpcsByStatus":{"OK":")"), std::string::npos)
      << last_response_;
  EXPECT_EQ(next_call_, calls_.size()) << "a grpcurl call of the tour this test never made";
}

}  // namespace
}  // namespace strait::testing
