#include "common/json_string.h"

#include <string>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace strait {
namespace {

// Decodes `json` (one JSON string) with protobuf's JSON parser, a real one.
std::string Decode(const std::string& json) {
  google::protobuf::Value value;
  auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  EXPECT_TRUE(status.ok()) << status << " in " << json;
  EXPECT_EQ(value.kind_case(), google::protobuf::Value::kStringValue) << json;
  return value.string_value();
}

std::string Json(absl::string_view text) {
  std::string out;
  AppendJsonString(&out, text);
  return out;
}

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  static constexpr char kText[] = "say \"hi\" \\ tab\t nl\n cr\r bell\x07 nul\0 end";
  const std::string text(kText, sizeof(kText) - 1);
  EXPECT_EQ(Json(text), "\"say \\\"hi\\\" \\\\ tab\\t nl\\n cr\\r bell\\u0007 nul\\u0000 end\"");
  EXPECT_EQ(Decode(Json(text)), text);
}

TEST(JsonStringTest, KeepsValidUtf8) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // café € 😀
  EXPECT_EQ(Json(text), "\"" + text + "\"");
  EXPECT_EQ(Decode(Json(text)), text);
}

TEST(JsonStringTest, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string kFffd = "\xEF\xBF\xBD";
  // Stray continuation, truncated sequence, overlong '/', surrogate, > U+10FFFF.
  EXPECT_EQ(Decode(Json("a\x80z")), "a" + kFffd + "z");
  EXPECT_EQ(Decode(Json("a\xC3")), "a" + kFffd);
  EXPECT_EQ(Decode(Json("\xC0\xAF")), kFffd + kFffd);
  EXPECT_EQ(Decode(Json("\xED\xA0\x80")), kFffd + kFffd + kFffd);
  EXPECT_EQ(Decode(Json("\xF4\x90\x80\x80")), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(Decode(Json("\xFF")), kFffd);
}

}  // namespace
}  // namespace strait
