#ifndef STRAIT_ADMIN_REFLECTION_SERVICE_H_
#define STRAIT_ADMIN_REFLECTION_SERVICE_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace strait::admin {

// The generated types of one reflection protocol version. v1 and v1alpha are
// the same messages in two packages, so one implementation serves both.
struct ReflectionV1 {
  using Service = grpc::reflection::v1::ServerReflection::Service;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
  static constexpr char kServiceName[] = "grpc.reflection.v1.ServerReflection";
};
struct ReflectionV1Alpha {
  using Service = grpc::reflection::v1alpha::ServerReflection::Service;
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
  static constexpr char kServiceName[] = "grpc.reflection.v1alpha.ServerReflection";
};

// grpc.reflection.<version>.ServerReflection, answered from a descriptor pool
// (the binary's generated pool by default): what grpcurl, Postman and Kreya
// use to list and describe services without .proto files. gRPC C++ 1.51's own
// reflection library registers only v1alpha (and carries its own copy of the
// v1alpha descriptors: never link libgrpc++_reflection beside this).
//
// - list_services: exactly the names given at construction;
// - file_by_filename, file_containing_symbol, file_containing_extension: the
//   FileDescriptorProto of the file, then its transitive dependencies, each
//   file once (depth first, as gRPC's implementation orders them);
// - all_extension_numbers_of_type: the extension numbers of a known type
//   (possibly none);
// - an unknown file, symbol, type or extension: error_response NOT_FOUND; a
//   request with no (or an unknown) message_request: UNIMPLEMENTED.
// Every response echoes the request's host as valid_host and the request as
// original_request. The stream answers each request in order until the
// client half-closes.
//
// Stateless after construction; gRPC's sync server threads call it, several
// streams at once. `pool` is not owned and must outlive the service.
template <typename Version>
class ReflectionService final : public Version::Service {
 public:
  using Request = typename Version::Request;
  using Response = typename Version::Response;

  explicit ReflectionService(std::vector<std::string> services,
                             const google::protobuf::DescriptorPool* pool =
                                 google::protobuf::DescriptorPool::generated_pool());

  // The response to one request; what the stream writes for it.
  Response Answer(const Request& request) const;

  // grpc.reflection.<version>.ServerReflection
  grpc::Status ServerReflectionInfo(grpc::ServerContext* context,
                                    grpc::ServerReaderWriter<Response, Request>* stream) override;

 private:
  const std::vector<std::string> services_;
  const google::protobuf::DescriptorPool* const pool_;
};

using ReflectionServiceV1 = ReflectionService<ReflectionV1>;
using ReflectionServiceV1Alpha = ReflectionService<ReflectionV1Alpha>;

// Both reflection versions over one service list, to register on one server:
// its list_services answers `services` plus both reflection services. Owned
// by whoever owns the grpc::Server, and must outlive it.
class ServerReflection {
 public:
  // NOT_FOUND naming the first service of `services` (or a reflection
  // service) that `pool` does not describe (its generated code is not linked
  // in, or the name is wrong): clients would list it and then fail to
  // describe it.
  static absl::StatusOr<std::unique_ptr<ServerReflection>> Create(
      std::vector<std::string> services, const google::protobuf::DescriptorPool* pool =
                                             google::protobuf::DescriptorPool::generated_pool());

  ServerReflection(const ServerReflection&) = delete;
  ServerReflection& operator=(const ServerReflection&) = delete;

  // Registers both services on `builder`; the server must not outlive this.
  void RegisterOn(grpc::ServerBuilder& builder);

  const ReflectionServiceV1& v1() const { return v1_; }
  const ReflectionServiceV1Alpha& v1alpha() const { return v1alpha_; }

 private:
  ServerReflection(const std::vector<std::string>& services,
                   const google::protobuf::DescriptorPool* pool);

  ReflectionServiceV1 v1_;
  ReflectionServiceV1Alpha v1alpha_;
};

}  // namespace strait::admin

#endif  // STRAIT_ADMIN_REFLECTION_SERVICE_H_
