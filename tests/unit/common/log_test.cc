#include "common/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace strait {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1764661200123);  // 2025-12-02T07:40:00.123Z

google::protobuf::Struct ParseJson(absl::string_view line) {
  google::protobuf::Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &parsed);
  EXPECT_TRUE(status.ok()) << status << " in " << line;
  return parsed;
}

// Runs `body` with stderr sent to a file; returns what it wrote.
template <typename Body>
std::string CaptureStderr(Body body) {
  FILE* file = tmpfile();
  const int saved = dup(STDERR_FILENO);
  dup2(fileno(file), STDERR_FILENO);
  body();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  rewind(file);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), file)) > 0) out.append(buffer, n);
  fclose(file);
  return out;
}

TEST(LogTest, TextLinesKeepTheirFormat) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kInfo, kTime, "listening on 80"),
            "2025-12-02T07:40:00.123Z I listening on 80\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kWarn, kTime, "flip",
                          {{"server", "h2c://a:1"}, {"note", "two words"}, {"n", 3}}),
            "2025-12-02T07:40:00.123Z W flip server=h2c://a:1 note=\"two words\" n=3\n");
}

TEST(LogTest, JsonLinesParseWithEveryField) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, LogLevel::kWarn, kTime, "bad \"peer\"\nsaid \x01",
                    {{"server", "h2c://a:1"}, {"port", 8080}});
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  google::protobuf::Struct parsed = ParseJson(line);
  const auto& fields = parsed.fields();
  EXPECT_EQ(fields.size(), 5u);
  EXPECT_EQ(fields.at("time").string_value(), "2025-12-02T07:40:00.123Z");
  EXPECT_EQ(fields.at("level").string_value(), "warn");
  EXPECT_EQ(fields.at("msg").string_value(), "bad \"peer\"\nsaid \x01");
  EXPECT_EQ(fields.at("server").string_value(), "h2c://a:1");
  EXPECT_EQ(fields.at("port").string_value(), "8080");
}

// --log-level takes the names JSON lines carry, and nothing else.
TEST(LogTest, ParseLogLevelTakesTheNamesJsonLinesCarry) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    const std::string name = ParseJson(FormatLogLine(LogFormat::kJson, level, kTime, "m"))
                                 .fields()
                                 .at("level")
                                 .string_value();
    EXPECT_EQ(ParseLogLevel(name), level) << name;
  }
  EXPECT_EQ(ParseLogLevel("WARN"), std::nullopt);
  EXPECT_EQ(ParseLogLevel("warning"), std::nullopt);
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("xml"), std::nullopt);
}

TEST(LogTest, SetLogFormatSwitchesWhatStraitLogWrites) {
  const std::string text = CaptureStderr([] { STRAIT_LOG(kInfo, "hello ", 42); });
  SetLogFormat(LogFormat::kJson);
  const std::string json = CaptureStderr([] {
    STRAIT_LOG(kInfo, "hello ", 42);
    LogWithFields(LogLevel::kInfo, "flip", {{"server", "s1"}});
    STRAIT_LOG(kDebug, "not enabled");
  });
  SetLogFormat(LogFormat::kText);
  EXPECT_TRUE(absl::EndsWith(text, " I hello 42\n")) << text;
  std::vector<absl::string_view> lines = absl::StrSplit(json, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << json;
  EXPECT_EQ(ParseJson(lines[0]).fields().at("msg").string_value(), "hello 42");
  EXPECT_EQ(ParseJson(lines[0]).fields().at("level").string_value(), "info");
  EXPECT_EQ(ParseJson(lines[1]).fields().at("server").string_value(), "s1");
}

TEST(LogRateLimitTest, FirstLinePassesRepeatsAreCountedWithTheNextOne) {
  absl::Time now = kTime;
  LogRateLimit limit(absl::Seconds(10), [&] { return now; });
  uint64_t suppressed = 99;
  EXPECT_TRUE(limit.Allow("a", &suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 0; i < 3; ++i) {
    now += absl::Seconds(3);
    EXPECT_FALSE(limit.Allow("a", &suppressed)) << i;
  }
  EXPECT_TRUE(limit.Allow("b", &suppressed)) << "keys are independent";
  EXPECT_EQ(suppressed, 0u);
  now += absl::Seconds(1);  // 10 s after the first "a"
  EXPECT_TRUE(limit.Allow("a", &suppressed));
  EXPECT_EQ(suppressed, 3u);
  EXPECT_FALSE(limit.Allow("a", &suppressed));
  now += absl::Seconds(10);
  EXPECT_TRUE(limit.Allow("a", &suppressed));
  EXPECT_EQ(suppressed, 1u);
  EXPECT_EQ(WithSuppressedCount("connect failed", 3), "connect failed (3 more like this)");
  EXPECT_EQ(WithSuppressedCount("connect failed", 0), "connect failed");
}

TEST(LogRateLimitTest, KeysAreBoundedNewKeysShareOneEntryWhenFull) {
  absl::Time now = kTime;
  LogRateLimit limit(absl::Seconds(10), [&] { return now; });
  uint64_t suppressed;
  for (size_t i = 0; i < LogRateLimit::kMaxKeys; ++i) {
    ASSERT_TRUE(limit.Allow(absl::StrCat("peer", i), &suppressed));
  }
  EXPECT_TRUE(limit.Allow("new1", &suppressed)) << "the overflow entry's first line";
  EXPECT_FALSE(limit.Allow("new2", &suppressed)) << "shares the overflow entry";
  now += absl::Seconds(10);  // every entry has expired: forgotten, room again
  EXPECT_TRUE(limit.Allow("new2", &suppressed));
  EXPECT_TRUE(limit.Allow("new3", &suppressed));
}

TEST(LogRateLimitTest, MacroWritesOneLinePerPeriod) {
  const std::string out = CaptureStderr([] {
    for (int i = 0; i < 5; ++i) {
      STRAIT_LOG_EVERY("same", absl::Hours(1), kWarn, "connect failed ", i);
    }
  });
  EXPECT_TRUE(absl::EndsWith(out, " W connect failed 0\n")) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

}  // namespace
}  // namespace strait
