#ifndef STRAIT_TESTS_SUPPORT_REFLECTION_CLIENT_H_
#define STRAIT_TESTS_SUPPORT_REFLECTION_CLIENT_H_

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "admin/reflection_service.h"

namespace strait::admin {

using google::protobuf::FileDescriptorProto;

// The generated client stub of each version.
template <typename Version>
struct StubOf;
template <>
struct StubOf<ReflectionV1> {
  using Type = grpc::reflection::v1::ServerReflection::Stub;
  static std::unique_ptr<Type> New(std::shared_ptr<grpc::Channel> channel) {
    return grpc::reflection::v1::ServerReflection::NewStub(channel);
  }
};
template <>
struct StubOf<ReflectionV1Alpha> {
  using Type = grpc::reflection::v1alpha::ServerReflection::Stub;
  static std::unique_ptr<Type> New(std::shared_ptr<grpc::Channel> channel) {
    return grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  }
};

// A client DescriptorDatabase over one reflection stream: what gRPC's
// ProtoReflectionDescriptorDatabase (test/cpp/util, not installed by Debian)
// does. A DescriptorPool over it fetches files lazily, dependencies included.
// Every file a response carries is kept, so one query can satisfy several.
template <typename Version>
class ReflectionDatabase final : public google::protobuf::DescriptorDatabase {
 public:
  using Request = typename Version::Request;
  using Response = typename Version::Response;

  explicit ReflectionDatabase(std::shared_ptr<grpc::Channel> channel)
      : stub_(StubOf<Version>::New(channel)), stream_(stub_->ServerReflectionInfo(&context_)) {}
  ~ReflectionDatabase() override {
    stream_->WritesDone();
    Response ignored;
    while (stream_->Read(&ignored)) {
    }
    EXPECT_TRUE(stream_->Finish().ok());
  }

  // Sends one request and returns its answer (an empty Response if the
  // stream broke, which fails the test).
  Response Ask(const Request& request) {
    ++requests_;
    Response response;
    EXPECT_TRUE(stream_->Write(request));
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }

  std::vector<std::string> ListServices() {
    Request request;
    request.set_list_services("");
    const Response response = Ask(request);
    std::vector<std::string> names;
    for (const auto& service : response.list_services_response().service()) {
      names.push_back(service.name());
    }
    return names;
  }

  int requests() const { return requests_; }

  // google::protobuf::DescriptorDatabase
  bool FindFileByName(const std::string& filename, FileDescriptorProto* output) override {
    if (cache_.FindFileByName(filename, output)) return true;
    Request request;
    request.set_file_by_filename(filename);
    return Keep(Ask(request)) && cache_.FindFileByName(filename, output);
  }
  bool FindFileContainingSymbol(const std::string& symbol, FileDescriptorProto* output) override {
    if (cache_.FindFileContainingSymbol(symbol, output)) return true;
    Request request;
    request.set_file_containing_symbol(symbol);
    return Keep(Ask(request)) && cache_.FindFileContainingSymbol(symbol, output);
  }
  bool FindFileContainingExtension(const std::string& containing_type, int field_number,
                                   FileDescriptorProto* output) override {
    if (cache_.FindFileContainingExtension(containing_type, field_number, output)) return true;
    Request request;
    request.mutable_file_containing_extension()->set_containing_type(containing_type);
    request.mutable_file_containing_extension()->set_extension_number(field_number);
    return Keep(Ask(request)) &&
           cache_.FindFileContainingExtension(containing_type, field_number, output);
  }

 private:
  bool Keep(const Response& response) {
    if (!response.has_file_descriptor_response()) return false;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) return false;
      FileDescriptorProto known;
      if (!cache_.FindFileByName(file.name(), &known)) cache_.Add(file);
    }
    return true;
  }

  std::unique_ptr<typename StubOf<Version>::Type> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  google::protobuf::SimpleDescriptorDatabase cache_;
  int requests_ = 0;
};

}  // namespace strait::admin

#endif  // STRAIT_TESTS_SUPPORT_REFLECTION_CLIENT_H_
