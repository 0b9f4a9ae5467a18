#include "admin/reflection_service.h"

#include <google/protobuf/descriptor.pb.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace strait::admin {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

void SetError(grpc::StatusCode code, std::string message, auto* response) {
  auto* error = response->mutable_error_response();
  error->set_error_code(static_cast<int32_t>(code));
  error->set_error_message(std::move(message));
}

// Appends `file` and then, depth first, every file it imports, skipping files
// already in `seen`: a client builds its pool from one answer, so the answer
// must be closed under imports, and duplicates would only cost bytes.
void AddFileAndDependencies(const FileDescriptor* file, absl::flat_hash_set<std::string>& seen,
                            auto* files) {
  if (!seen.insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  files->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileAndDependencies(file->dependency(i), seen, files);
  }
}

void SetFile(const FileDescriptor* file, auto* response) {
  absl::flat_hash_set<std::string> seen;
  AddFileAndDependencies(file, seen, response->mutable_file_descriptor_response());
}

}  // namespace

template <typename Version>
ReflectionService<Version>::ReflectionService(std::vector<std::string> services,
                                              const DescriptorPool* pool)
    : services_(std::move(services)), pool_(pool) {}

template <typename Version>
typename Version::Response ReflectionService<Version>::Answer(const Request& request) const {
  Response response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case Request::kFileByFilename: {
      const FileDescriptor* file = pool_->FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        SetError(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("file not found: ", request.file_by_filename()), &response);
      } else {
        SetFile(file, &response);
      }
      break;
    }
    case Request::kFileContainingSymbol: {
      const FileDescriptor* file =
          pool_->FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        SetError(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("symbol not found: ", request.file_containing_symbol()), &response);
      } else {
        SetFile(file, &response);
      }
      break;
    }
    case Request::kFileContainingExtension: {
      const auto& extension = request.file_containing_extension();
      const Descriptor* type = pool_->FindMessageTypeByName(extension.containing_type());
      const FieldDescriptor* field =
          type == nullptr ? nullptr
                          : pool_->FindExtensionByNumber(type, extension.extension_number());
      if (type == nullptr) {
        SetError(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("type not found: ", extension.containing_type()), &response);
      } else if (field == nullptr) {
        SetError(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("extension not found: ", extension.containing_type(), " field ",
                              extension.extension_number()),
                 &response);
      } else {
        SetFile(field->file(), &response);
      }
      break;
    }
    case Request::kAllExtensionNumbersOfType: {
      const std::string& name = request.all_extension_numbers_of_type();
      const Descriptor* type = pool_->FindMessageTypeByName(name);
      if (type == nullptr) {
        SetError(grpc::StatusCode::NOT_FOUND, absl::StrCat("type not found: ", name), &response);
        break;
      }
      std::vector<const FieldDescriptor*> extensions;
      pool_->FindAllExtensions(type, &extensions);
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(name);
      for (const FieldDescriptor* field : extensions)
        numbers->add_extension_number(field->number());
      break;
    }
    case Request::kListServices: {
      auto* list = response.mutable_list_services_response();
      for (const std::string& name : services_) list->add_service()->set_name(name);
      break;
    }
    default:
      SetError(grpc::StatusCode::UNIMPLEMENTED, "no message_request this server knows", &response);
      break;
  }
  return response;
}

template <typename Version>
grpc::Status ReflectionService<Version>::ServerReflectionInfo(
    grpc::ServerContext* context, grpc::ServerReaderWriter<Response, Request>* stream) {
  Request request;
  while (stream->Read(&request)) {
    // A failed write means the call is gone: nothing left to answer.
    if (!stream->Write(Answer(request))) break;
  }
  return grpc::Status::OK;
}

template class ReflectionService<ReflectionV1>;
template class ReflectionService<ReflectionV1Alpha>;

absl::StatusOr<std::unique_ptr<ServerReflection>> ServerReflection::Create(
    std::vector<std::string> services, const DescriptorPool* pool) {
  services.push_back(ReflectionV1::kServiceName);
  services.push_back(ReflectionV1Alpha::kServiceName);
  for (const std::string& name : services) {
    if (pool->FindServiceByName(name) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("reflection: service ", name,
                       " is not in the descriptor pool (is its generated code linked in?)"));
    }
  }
  return std::unique_ptr<ServerReflection>(new ServerReflection(services, pool));
}

ServerReflection::ServerReflection(const std::vector<std::string>& services,
                                   const DescriptorPool* pool)
    : v1_(services, pool), v1alpha_(services, pool) {}

void ServerReflection::RegisterOn(grpc::ServerBuilder& builder) {
  builder.RegisterService(&v1_);
  builder.RegisterService(&v1alpha_);
}

}  // namespace strait::admin
