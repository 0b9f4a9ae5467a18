#include "config/loader.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "config/validate.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"

namespace strait::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "null";
    default: return "nothing";
  }
}

// The field whose JSON name (or, as protobuf's JSON parser also accepts, whose
// proto name) is `name`.
const FieldDescriptor* FieldByJsonName(const Descriptor* descriptor, const std::string& name) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->json_name() == name) return field;
  }
  return descriptor->FindFieldByName(name);
}

// Walks a YAML tree alongside a message's descriptor, filling the message
// the way protobuf's JSON parser would, but naming every error's place.
class YamlToProto {
 public:
  explicit YamlToProto(absl::string_view source) : source_(source) {}

  absl::Status Message(const YAML::Node& node, google::protobuf::Message* msg,
                       const std::string& path) {
    if (msg->GetDescriptor()->full_name() == "google.protobuf.Duration") {
      return Duration(node, msg, path);
    }
    if (!node.IsMap()) {
      return Error(node, path, absl::StrCat("expected a map, got ", KindName(node)));
    }
    const Descriptor* descriptor = msg->GetDescriptor();
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: the iterator hands out a temporary pair.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      if (!key.IsScalar()) return Error(key, path, "keys must be plain names");
      const std::string& name = key.Scalar();
      std::string child = path.empty() ? name : absl::StrCat(path, ".", name);
      const FieldDescriptor* field = FieldByJsonName(descriptor, name);
      if (field == nullptr) {
        return Error(key, child, absl::StrCat("unknown field \"", name, "\""));
      }
      if (value.IsNull()) continue;  // explicit null: unset
      const google::protobuf::OneofDescriptor* oneof = field->real_containing_oneof();
      if (oneof != nullptr) {
        const FieldDescriptor* set = msg->GetReflection()->GetOneofFieldDescriptor(*msg, oneof);
        if (set != nullptr && set != field) {
          return Error(key, child,
                       absl::StrCat("only one of ", set->json_name(), " and ",
                                    field->json_name(), " may be set"));
        }
      }
      if (absl::Status s = Field(value, msg, field, child); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Error(const YAML::Node& node, const std::string& path,
                     absl::string_view problem) const {
    YAML::Mark mark = node.Mark();
    std::string where = mark.is_null()
                            ? std::string(source_)
                            : absl::StrCat(source_, ":", mark.line + 1, ":", mark.column + 1);
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", path.empty() ? "" : absl::StrCat(path, ": "), problem));
  }

 private:
  absl::Status Field(const YAML::Node& node, google::protobuf::Message* msg,
                     const FieldDescriptor* field, const std::string& path) {
    const Reflection* r = msg->GetReflection();
    if (field->is_map()) {
      if (!node.IsMap()) {
        return Error(node, path, absl::StrCat("expected a map, got ", KindName(node)));
      }
      for (auto it = node.begin(); it != node.end(); ++it) {
        YAML::Node key_node = it->first;
        YAML::Node value = it->second;
        if (!key_node.IsScalar()) return Error(key_node, path, "keys must be plain names");
        const std::string key = key_node.Scalar();
        google::protobuf::Message* entry = r->AddMessage(msg, field);
        const Descriptor* d = entry->GetDescriptor();
        entry->GetReflection()->SetString(entry, d->FindFieldByNumber(1), key);
        std::string child = absl::StrCat(path, ".", key);
        const FieldDescriptor* value_field = d->FindFieldByNumber(2);
        if (value.IsNull()) {
          if (value_field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
            return Error(value, child, "a value is required");
          }
          continue;
        }
        if (absl::Status s = Single(value, entry, value_field, child); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    if (field->is_repeated()) {
      if (!node.IsSequence()) {
        return Error(node, path, absl::StrCat("expected a list, got ", KindName(node)));
      }
      for (size_t i = 0; i < node.size(); ++i) {
        if (absl::Status s = Repeated(node[i], msg, field, absl::StrCat(path, "[", i, "]"));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    return Single(node, msg, field, path);
  }

  absl::Status Repeated(const YAML::Node& node, google::protobuf::Message* msg,
                        const FieldDescriptor* field, const std::string& path) {
    const Reflection* r = msg->GetReflection();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Message(node, r->AddMessage(msg, field), path);
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      return Error(node, path, "only lists of strings and maps are supported");
    }
    if (!node.IsScalar()) {
      return Error(node, path, absl::StrCat("expected a string, got ", KindName(node)));
    }
    r->AddString(msg, field, node.Scalar());
    return absl::OkStatus();
  }

  absl::Status Single(const YAML::Node& node, google::protobuf::Message* msg,
                      const FieldDescriptor* field, const std::string& path) {
    const Reflection* r = msg->GetReflection();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Message(node, r->MutableMessage(msg, field), path);
    }
    if (!node.IsScalar()) {
      return Error(node, path,
                   absl::StrCat("expected ", ScalarKind(field), ", got ", KindName(node)));
    }
    const std::string& text = node.Scalar();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(msg, field, text);
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_BOOL:
        if (text == "true") {
          r->SetBool(msg, field, true);
        } else if (text == "false") {
          r->SetBool(msg, field, false);
        } else {
          return Error(node, path, absl::StrCat("expected true or false, got \"", text, "\""));
        }
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!absl::SimpleAtoi(text, &v)) return NotANumber(node, path, text, "an integer");
        r->SetInt32(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!absl::SimpleAtoi(text, &v)) {
          return NotANumber(node, path, text, "a whole number from 0 to 4294967295");
        }
        r->SetUInt32(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(text, &v)) return NotANumber(node, path, text, "an integer");
        r->SetInt64(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!absl::SimpleAtoi(text, &v)) return NotANumber(node, path, text, "a whole number");
        r->SetUInt64(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        if (!absl::SimpleAtod(text, &v)) return NotANumber(node, path, text, "a number");
        r->SetDouble(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* value = field->enum_type()->FindValueByName(text);
        if (value == nullptr) {
          return Error(node, path, absl::StrCat("unknown value \"", text, "\""));
        }
        r->SetEnum(msg, field, value);
        return absl::OkStatus();
      }
      default:
        return Error(node, path, "unsupported field type");
    }
  }

  // protobuf JSON durations ("1.5s") and Go-style ones ("250ms", "2m",
  // "1h30m"), as Traefik users write them.
  absl::Status Duration(const YAML::Node& node, google::protobuf::Message* msg,
                        const std::string& path) {
    if (!node.IsScalar()) {
      return Error(node, path, absl::StrCat("expected a duration such as \"1.5s\", got ",
                                            KindName(node)));
    }
    absl::Duration d;
    if (!absl::ParseDuration(node.Scalar(), &d) || d == absl::InfiniteDuration()) {
      return Error(node, path,
                   absl::StrCat("expected a duration such as \"1.5s\" or \"250ms\", got \"",
                                node.Scalar(), "\""));
    }
    if (d < absl::ZeroDuration()) {
      return Error(node, path, absl::StrCat("must not be negative, got \"", node.Scalar(), "\""));
    }
    auto* duration = static_cast<google::protobuf::Duration*>(msg);
    int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
    duration->set_seconds(seconds);
    duration->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
    return absl::OkStatus();
  }

  static const char* ScalarKind(const FieldDescriptor* field) {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: return "a string";
      case FieldDescriptor::CPPTYPE_BOOL: return "true or false";
      case FieldDescriptor::CPPTYPE_ENUM: return "a name";
      default: return "a number";
    }
  }

  absl::Status NotANumber(const YAML::Node& node, const std::string& path,
                          const std::string& text, absl::string_view want) const {
    return Error(node, path, absl::StrCat("expected ", want, ", got \"", text, "\""));
  }

  absl::string_view source_;
};

}  // namespace

absl::StatusOr<v1::Config> ParseConfig(absl::string_view text, absl::string_view source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports syntax errors by exception; they stop here.
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1,
                                                   ": YAML syntax error: ", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": empty configuration"));
  }
  v1::Config config;
  YamlToProto walker(source_name);
  if (absl::Status s = walker.Message(root, &config, ""); !s.ok()) return s;
  return config;
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": open"));
  std::string bytes;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat(path, ": read"));
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return bytes;
}

absl::StatusOr<v1::Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

absl::StatusOr<v1::Config> ParseAndValidate(absl::string_view text, const std::string& path) {
  absl::StatusOr<v1::Config> config = ParseConfig(text, path);
  if (!config.ok()) return config.status();
  if (absl::Status s = ValidateConfig(*config); !s.ok()) {
    // One problem per line, each naming the file.
    std::vector<std::string> lines = absl::StrSplit(s.message(), '\n');
    for (std::string& line : lines) line = absl::StrCat(path, ": ", line);
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }
  return config;
}

absl::StatusOr<v1::Config> LoadAndValidate(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) return text.status();
  return ParseAndValidate(*text, path);
}

}  // namespace strait::config
