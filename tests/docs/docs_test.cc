// Keeps the reference docs complete, from the schemas themselves (the
// generated descriptors): a field, message or RPC added to a .proto without
// its documentation fails here, naming what is missing.
//
// The markers are plain Markdown, so a reader sees them as well:
//  - docs/configuration.md: every field has a table row whose first cell is
//    its full key path in backticks, as a YAML file writes it (json names;
//    a map's key is `<name>`, a list's element `[]`):
//      | `services.<name>.loadBalancer.servers[].url` | string | ... |
//    and every message reachable from Config (and the state file's State)
//    has a heading that names it in backticks: "## Health checks: `HealthCheck`".
//  - docs/admin.md: every RPC of strait.admin.v1.Admin has the heading
//    "### Method", and before the next heading a line with a grpcurl call of
//    "strait.admin.v1.Admin/Method".
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "strait/admin/v1/admin.pb.h"
#include "strait/config/v1/config.pb.h"
#include "strait/config/v1/state.pb.h"

namespace strait {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

std::string ReadDoc(const std::string& name) {
  std::ifstream file(std::string(STRAIT_SOURCE_DIR) + "/docs/" + name);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_TRUE(file.good()) << "cannot read docs/" << name;
  return text.str();
}

// A Markdown document's lines, with what the markers need: table rows'
// first cells and headings, neither taken from inside ``` code blocks (where
// a "# comment" is no heading).
struct Markdown {
  struct Line {
    std::string text;
    bool heading = false;  // starts with '#', outside code blocks
  };
  std::vector<Line> lines;

  explicit Markdown(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    bool fenced = false;
    while (std::getline(in, line)) {
      if (line.rfind("```", 0) == 0) fenced = !fenced;
      lines.push_back({line, !fenced && line.rfind("#", 0) == 0});
    }
  }

  // The key paths of table rows: "| `a.b` | ..." gives "a.b".
  std::set<std::string> RowKeys() const {
    static const std::regex kRow(R"(^\|\s*`([^`]+)`\s*\|)");
    std::set<std::string> keys;
    for (const Line& line : lines) {
      std::smatch m;
      if (std::regex_search(line.text, m, kRow)) keys.insert(m[1]);
    }
    return keys;
  }
};

// Well-known types (Duration, Timestamp) are values, not sections.
bool IsLeafMessage(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

// Every field below `d`, by its full key path, and every message reached.
// Messages in `elsewhere` get their own row but are not walked into (State's
// `config` is the whole Config, documented on its own).
void Walk(const Descriptor* d, const std::string& prefix,
          const std::set<const Descriptor*>& elsewhere, std::vector<std::string>* paths,
          std::set<const Descriptor*>* messages, int depth = 0) {
  ASSERT_LT(depth, 20) << "the schema nests deeper than any YAML file: a cycle at " << prefix;
  messages->insert(d);
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    std::string path = prefix.empty() ? field->json_name() : prefix + "." + field->json_name();
    paths->push_back(path);
    const Descriptor* child = nullptr;
    std::string child_prefix;
    if (field->is_map()) {
      const FieldDescriptor* value = field->message_type()->map_value();
      if (value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        child = value->message_type();
        child_prefix = path + ".<name>";
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      child = field->message_type();
      child_prefix = field->is_repeated() ? path + "[]" : path;
    }
    if (child == nullptr || IsLeafMessage(child) || elsewhere.contains(child)) continue;
    Walk(child, child_prefix, elsewhere, paths, messages, depth + 1);
  }
}

struct Schema {
  std::vector<std::string> paths;
  std::set<const Descriptor*> messages;
};

// Config from the top, and the state file's State (whose `config` is a Config).
Schema ConfigSchema() {
  Schema schema;
  Walk(config::v1::Config::descriptor(), "", {}, &schema.paths, &schema.messages);
  Walk(config::v1::State::descriptor(), "", {config::v1::Config::descriptor()}, &schema.paths,
       &schema.messages);
  return schema;
}

std::string Listed(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += "\n  " + item;
  return out;
}

TEST(DocsTest, ConfigurationHasARowForEveryField) {
  const std::set<std::string> rows = Markdown(ReadDoc("configuration.md")).RowKeys();
  std::vector<std::string> missing;
  for (const std::string& path : ConfigSchema().paths) {
    if (!rows.contains(path)) missing.push_back(path);
  }
  EXPECT_TRUE(missing.empty())
      << "docs/configuration.md has no row for " << missing.size()
      << " field(s) of config.proto / state.proto (add a table row starting with "
         "| `PATH` |):"
      << Listed(missing);
}

TEST(DocsTest, ConfigurationDocumentsNoFieldThatDoesNotExist) {
  const std::vector<std::string> paths = ConfigSchema().paths;
  const std::set<std::string> known(paths.begin(), paths.end());
  std::vector<std::string> stale;
  for (const std::string& row : Markdown(ReadDoc("configuration.md")).RowKeys()) {
    if (!known.contains(row)) stale.push_back(row);
  }
  EXPECT_TRUE(stale.empty()) << "docs/configuration.md has rows for key paths the schema "
                                "does not have (renamed or removed?):"
                             << Listed(stale);
}

TEST(DocsTest, ConfigurationHasASectionForEveryMessage) {
  const Markdown doc(ReadDoc("configuration.md"));
  std::vector<std::string> missing;
  std::set<std::string> names;  // sorted, for the failure message
  for (const Descriptor* message : ConfigSchema().messages) names.insert(message->full_name());
  for (const std::string& name : names) {
    const std::string marker = "`" + name.substr(name.rfind('.') + 1) + "`";
    bool found = false;
    for (const Markdown::Line& line : doc.lines) {
      if (line.heading && line.text.find(marker) != std::string::npos) found = true;
    }
    if (!found) missing.push_back(name);
  }
  EXPECT_TRUE(missing.empty()) << "docs/configuration.md has no section (a heading naming "
                                  "the message in backticks) for:"
                               << Listed(missing);
}

TEST(DocsTest, AdminHasAHeadingAndAGrpcurlExampleForEveryRpc) {
  const google::protobuf::ServiceDescriptor* admin =
      admin::v1::GetConfigRequest::descriptor()->file()->FindServiceByName("Admin");
  ASSERT_NE(admin, nullptr);
  ASSERT_GT(admin->method_count(), 0);
  const Markdown doc(ReadDoc("admin.md"));
  std::vector<std::string> no_heading;
  std::vector<std::string> no_example;
  for (int i = 0; i < admin->method_count(); ++i) {
    const std::string name = admin->method(i)->name();
    size_t at = 0;
    while (at < doc.lines.size() &&
           !(doc.lines[at].heading && doc.lines[at].text == "### " + name)) {
      ++at;
    }
    if (at == doc.lines.size()) {
      no_heading.push_back(name);
      continue;
    }
    const std::string call = admin->full_name() + "/" + name;
    bool example = false;
    for (size_t j = at + 1; j < doc.lines.size() && !doc.lines[j].heading; ++j) {
      const std::string& text = doc.lines[j].text;
      if (text.find("grpcurl") != std::string::npos && text.find(call) != std::string::npos) {
        example = true;
      }
    }
    if (!example) no_example.push_back(name);
  }
  EXPECT_TRUE(no_heading.empty()) << "docs/admin.md has no heading \"### METHOD\" for:"
                                  << Listed(no_heading);
  EXPECT_TRUE(no_example.empty())
      << "docs/admin.md has no grpcurl example (a line with grpcurl and " << admin->full_name()
      << "/METHOD before the next heading) for:" << Listed(no_example);
}

}  // namespace
}  // namespace strait
