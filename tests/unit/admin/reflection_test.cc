#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "admin/reflection_service.h"
#include "tests/support/reflection_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "strait/config/v1/config.pb.h"
#include "tests/support/echo.grpc.pb.h"
#include "tests/support/echo_service.h"

namespace strait::admin {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptorProto;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kHealth[] = "grpc.health.v1.Health";
constexpr char kEcho[] = "strait.test.v1.Echo";

// The file names in a file_descriptor_response, in order.
template <typename Response>
std::vector<std::string> FileNames(const Response& response) {
  std::vector<std::string> names;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  return names;
}

// A real gRPC C++ server on 127.0.0.1:0 serving both reflection versions,
// gRPC's default grpc.health.v1 service, and the test echo service; the
// reflection lists grpc.health.v1.Health and strait.test.v1.Echo.
class ReflectionServer {
 public:
  ReflectionServer() : echo_("echo") {
    // The default health service does not use protobuf's generated code, so
    // grpc.health.v1's descriptors come from grpc_health_proto, linked here.
    grpc::health::v1::HealthCheckRequest::descriptor();
    grpc::EnableDefaultHealthCheckService(true);
    auto reflection = ServerReflection::Create({kHealth, kEcho});
    EXPECT_TRUE(reflection.ok()) << reflection.status();
    reflection_ = *std::move(reflection);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    reflection_->RegisterOn(builder);
    builder.RegisterService(&echo_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_GT(port_, 0);
  }
  ~ReflectionServer() { server_->Shutdown(); }

  std::shared_ptr<grpc::Channel> NewChannel() const {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                               grpc::InsecureChannelCredentials());
  }

 private:
  testing::EchoService echo_;
  std::unique_ptr<ServerReflection> reflection_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

template <typename Version>
class ReflectionServerTest : public ::testing::Test {
 protected:
  using Request = typename Version::Request;
  using Response = typename Version::Response;

  ReflectionServer server_;
};

using Versions = ::testing::Types<ReflectionV1, ReflectionV1Alpha>;
class VersionNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, ReflectionV1> ? "V1" : "V1Alpha";
  }
};
TYPED_TEST_SUITE(ReflectionServerTest, Versions, VersionNames);

// grpcurl's `list`, then `describe` of a method: list_services, then
// file_containing_symbol, and a pool built from the answers alone.
TYPED_TEST(ReflectionServerTest, ListsServicesAndDescribesAMethod) {
  ReflectionDatabase<TypeParam> db(this->server_.NewChannel());
  EXPECT_THAT(db.ListServices(),
              UnorderedElementsAre(kHealth, kEcho, "grpc.reflection.v1.ServerReflection",
                                   "grpc.reflection.v1alpha.ServerReflection"));

  DescriptorPool pool(&db);
  const auto* method = pool.FindMethodByName("strait.test.v1.Echo.Unary");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(method->input_type()->full_name(), "strait.test.v1.EchoRequest");
  EXPECT_EQ(method->output_type()->full_name(), "strait.test.v1.EchoResponse");
  const auto* bidi = pool.FindMethodByName("strait.test.v1.Echo.Bidi");
  ASSERT_NE(bidi, nullptr);
  EXPECT_TRUE(bidi->client_streaming());
  EXPECT_TRUE(bidi->server_streaming());
}

// `grpcurl describe` works for every service the server lists, reflection
// and health included.
TYPED_TEST(ReflectionServerTest, DescribesEveryListedService) {
  ReflectionDatabase<TypeParam> db(this->server_.NewChannel());
  DescriptorPool pool(&db);
  for (const std::string& name : db.ListServices()) {
    const auto* service = pool.FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    EXPECT_GT(service->method_count(), 0) << name;
  }
  const auto* check = pool.FindMethodByName("grpc.health.v1.Health.Check");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->output_type()->full_name(), "grpc.health.v1.HealthCheckResponse");

  // The health service listed is really served next to reflection.
  auto health = grpc::health::v1::Health::NewStub(this->server_.NewChannel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TYPED_TEST(ReflectionServerTest, UnknownSymbolIsNotFound) {
  ReflectionDatabase<TypeParam> db(this->server_.NewChannel());
  typename TestFixture::Request request;
  request.set_file_containing_symbol("strait.test.v1.NoSuchService");
  const auto response = db.Ask(request);
  ASSERT_TRUE(response.has_error_response());
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(response.error_response().error_message(), ::testing::HasSubstr("NoSuchService"));
  EXPECT_FALSE(response.has_file_descriptor_response());

  // The stream lives on after an error.
  EXPECT_THAT(db.ListServices(), ::testing::Contains(kEcho));
}

// Several requests on one stream, each answered in order, each answer naming
// its request; the stream ends OK when the client half-closes (checked in
// ~ReflectionDatabase).
TYPED_TEST(ReflectionServerTest, AnswersSeveralRequestsInOrder) {
  using Request = typename TestFixture::Request;
  using Response = typename TestFixture::Response;
  auto stub = StubOf<TypeParam>::New(this->server_.NewChannel());
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);

  std::vector<Request> requests(5);
  requests[0].set_list_services("");
  requests[1].set_file_containing_symbol("strait.test.v1.EchoRequest");
  requests[2].set_file_containing_symbol("no.such.Symbol");
  requests[3].set_file_by_filename("grpc/health/v1/health.proto");
  requests[4].set_all_extension_numbers_of_type("strait.test.v1.EchoRequest");
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].set_host("host-" + std::to_string(i));
    ASSERT_TRUE(stream->Write(requests[i]));
  }
  ASSERT_TRUE(stream->WritesDone());

  std::vector<Response> responses;
  Response response;
  while (stream->Read(&response)) responses.push_back(response);
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(responses.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(responses[i].original_request().SerializeAsString(), requests[i].SerializeAsString())
        << i;
    EXPECT_EQ(responses[i].valid_host(), "host-" + std::to_string(i));
  }
  EXPECT_EQ(responses[0].list_services_response().service_size(), 4);
  EXPECT_THAT(FileNames(responses[1]), ElementsAre("tests/support/echo.proto"));
  EXPECT_EQ(responses[2].error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(FileNames(responses[3]), ElementsAre("grpc/health/v1/health.proto"));
  EXPECT_EQ(responses[4].all_extension_numbers_response().base_type_name(),
            "strait.test.v1.EchoRequest");
  EXPECT_THAT(responses[4].all_extension_numbers_response().extension_number(), IsEmpty());
}

// v1 and v1alpha describe the same files byte for byte.
TEST(ReflectionVersionsTest, BothVersionsGiveTheSameDescriptors) {
  ReflectionServer server;
  ReflectionDatabase<ReflectionV1> v1(server.NewChannel());
  ReflectionDatabase<ReflectionV1Alpha> v1alpha(server.NewChannel());
  ReflectionV1::Request a;
  a.set_file_containing_symbol(kEcho);
  ReflectionV1Alpha::Request b;
  b.set_file_containing_symbol(kEcho);
  EXPECT_EQ(v1.Ask(a).file_descriptor_response().SerializeAsString(),
            v1alpha.Ask(b).file_descriptor_response().SerializeAsString());
}

// --- Answer() alone, over the generated pool or a pool built here.

// A diamond: d imports b and c, both of which import a; b extends a.Base.
class DiamondPool {
 public:
  DiamondPool() {
    Add(R"pb(name: "a.proto"
             package: "t"
             message_type {
               name: "Base"
               extension_range { start: 100 end: 200 }
             })pb");
    Add(R"pb(name: "b.proto"
             package: "t"
             dependency: "a.proto"
             extension {
               name: "b_ext"
               number: 100
               label: LABEL_OPTIONAL
               type: TYPE_INT32
               extendee: ".t.Base"
             }
             extension {
               name: "b_ext2"
               number: 150
               label: LABEL_OPTIONAL
               type: TYPE_STRING
               extendee: ".t.Base"
             })pb");
    Add(R"pb(name: "c.proto"
             package: "t"
             dependency: "a.proto"
             message_type { name: "C" })pb");
    Add(R"pb(name: "d.proto"
             package: "t"
             dependency: "b.proto"
             dependency: "c.proto"
             service {
               name: "D"
               method { name: "Get" input_type: ".t.C" output_type: ".t.C" }
             })pb");
  }
  const DescriptorPool* pool() const { return &pool_; }

 private:
  void Add(const std::string& text) {
    FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &file)) << text;
    ASSERT_NE(pool_.BuildFile(file), nullptr) << text;
  }
  DescriptorPool pool_;
};

TEST(ReflectionAnswerTest, FileByFilenameCarriesEachTransitiveDependencyOnce) {
  DiamondPool diamond;
  ReflectionServiceV1 service({"t.D"}, diamond.pool());
  ReflectionV1::Request request;
  request.set_file_by_filename("d.proto");
  // Depth first, the requested file first; a.proto once although two paths
  // lead to it.
  EXPECT_THAT(FileNames(service.Answer(request)),
              ElementsAre("d.proto", "b.proto", "a.proto", "c.proto"));

  request.set_file_containing_symbol("t.D.Get");
  EXPECT_THAT(FileNames(service.Answer(request)),
              ElementsAre("d.proto", "b.proto", "a.proto", "c.proto"));

  request.set_file_by_filename("nope.proto");
  const auto response = service.Answer(request);
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(response.has_file_descriptor_response());
}

TEST(ReflectionAnswerTest, FileByFilenameOverTheGeneratedPoolIncludesImports) {
  strait::config::v1::Config::descriptor();  // linked, so in the generated pool
  ReflectionServiceV1Alpha service({});
  ReflectionV1Alpha::Request request;
  request.set_file_by_filename("strait/config/v1/config.proto");
  EXPECT_THAT(FileNames(service.Answer(request)),
              ElementsAre("strait/config/v1/config.proto", "google/protobuf/duration.proto"));
}

TEST(ReflectionAnswerTest, Extensions) {
  DiamondPool diamond;
  ReflectionServiceV1 service({}, diamond.pool());
  ReflectionV1::Request request;

  request.mutable_file_containing_extension()->set_containing_type("t.Base");
  request.mutable_file_containing_extension()->set_extension_number(150);
  EXPECT_THAT(FileNames(service.Answer(request)), ElementsAre("b.proto", "a.proto"));

  request.mutable_file_containing_extension()->set_extension_number(101);
  auto response = service.Answer(request);
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(response.error_response().error_message(), ::testing::HasSubstr("101"));

  request.mutable_file_containing_extension()->set_containing_type("t.Nope");
  response = service.Answer(request);
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(response.error_response().error_message(), ::testing::HasSubstr("t.Nope"));

  request.set_all_extension_numbers_of_type("t.Base");
  response = service.Answer(request);
  EXPECT_FALSE(response.has_error_response());
  EXPECT_EQ(response.all_extension_numbers_response().base_type_name(), "t.Base");
  EXPECT_THAT(response.all_extension_numbers_response().extension_number(),
              UnorderedElementsAre(100, 150));

  request.set_all_extension_numbers_of_type("t.C");  // known, no extensions
  response = service.Answer(request);
  EXPECT_FALSE(response.has_error_response());
  EXPECT_TRUE(response.has_all_extension_numbers_response());
  EXPECT_THAT(response.all_extension_numbers_response().extension_number(), IsEmpty());

  request.set_all_extension_numbers_of_type("t.Nope");
  response = service.Answer(request);
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ReflectionAnswerTest, RequestWithoutAKnownMessageIsUnimplemented) {
  ReflectionServiceV1 service({kEcho});
  ReflectionV1::Request request;
  request.set_host("h");
  const auto response = service.Answer(request);
  ASSERT_TRUE(response.has_error_response());
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(response.valid_host(), "h");
}

TEST(ReflectionAnswerTest, ListServicesIsExactlyTheGivenList) {
  ReflectionServiceV1 service({kEcho, kHealth});
  ReflectionV1::Request request;
  request.set_list_services("*");
  const auto response = service.Answer(request);
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names, ElementsAre(kEcho, kHealth));
}

TEST(ServerReflectionTest, CreateRefusesAServiceThePoolDoesNotDescribe) {
  auto reflection = ServerReflection::Create({kEcho, "strait.admin.v1.Admin"});
  ASSERT_FALSE(reflection.ok());
  EXPECT_EQ(reflection.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(reflection.status().message(), ::testing::HasSubstr("strait.admin.v1.Admin"));
}

}  // namespace
}  // namespace strait::admin
