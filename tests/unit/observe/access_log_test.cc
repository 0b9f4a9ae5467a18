#include "observe/access_log.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace strait::observe {
namespace {

using ::testing::HasSubstr;

// A record with every field set, some to what a hostile peer could send.
AccessLogRecord FullRecord() {
  AccessLogRecord r;
  r.start = absl::FromUnixMicros(1764661200123456);  // 2025-12-02T07:40:00.123456Z
  r.entry_point = "web";
  r.router = "api";
  r.service = "api-svc";
  r.server = "h2c://10.0.0.1:50051";
  r.authority = "api.example:8080";
  r.method = "/pkg.Svc/Say\"Hi\"\n\x01\xFF";
  r.grpc_status = 14;
  r.grpc_message = "no healthy server: tab\t \xC3\xA9";
  r.duration = absl::Microseconds(12300);
  r.time_to_first_byte = absl::Microseconds(1500);
  r.request_bytes = 123;
  r.response_bytes = 4567;
  r.retries = 2;
  r.peer = "127.0.0.1:51234";
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  r.x_request_id = "req-1";
  return r;
}

google::protobuf::Struct ParseJson(absl::string_view line) {
  google::protobuf::Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &parsed);
  EXPECT_TRUE(status.ok()) << status << " in " << line;
  return parsed;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<std::string> Lines(const std::string& path) {
  return absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
}

class ScratchFile {
 public:
  ScratchFile() {
    path_ = (std::filesystem::temp_directory_path() /
             absl::StrCat("strait_access_log_test_", getpid(), "_", counter_++))
                .string();
    std::filesystem::remove(path_);
  }
  ~ScratchFile() {
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + ".1");
  }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(AccessLogFormatTest, JsonParsesWithEveryField) {
  const std::string line = FormatJson(FullRecord());
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line";
  const auto parsed = ParseJson(line);
  const auto& f = parsed.fields();
  EXPECT_EQ(f.size(), 18u) << line;
  EXPECT_EQ(f.at("time").string_value(), "2025-12-02T07:40:00.123456Z");
  EXPECT_EQ(f.at("entry_point").string_value(), "web");
  EXPECT_EQ(f.at("router").string_value(), "api");
  EXPECT_EQ(f.at("service").string_value(), "api-svc");
  EXPECT_EQ(f.at("server").string_value(), "h2c://10.0.0.1:50051");
  EXPECT_EQ(f.at("authority").string_value(), "api.example:8080");
  EXPECT_EQ(f.at("method").string_value(), "/pkg.Svc/Say\"Hi\"\n\x01\xEF\xBF\xBD");
  EXPECT_EQ(f.at("grpc_status").string_value(), "UNAVAILABLE");
  EXPECT_EQ(f.at("grpc_code").number_value(), 14);
  EXPECT_EQ(f.at("grpc_message").string_value(), "no healthy server: tab\t \xC3\xA9");
  EXPECT_DOUBLE_EQ(f.at("duration_seconds").number_value(), 0.0123);
  EXPECT_DOUBLE_EQ(f.at("time_to_first_byte_seconds").number_value(), 0.0015);
  EXPECT_EQ(f.at("request_bytes").number_value(), 123);
  EXPECT_EQ(f.at("response_bytes").number_value(), 4567);
  EXPECT_EQ(f.at("retries").number_value(), 2);
  EXPECT_EQ(f.at("peer").string_value(), "127.0.0.1:51234");
  EXPECT_EQ(f.at("traceparent").string_value(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(f.at("x_request_id").string_value(), "req-1");
}

TEST(AccessLogFormatTest, JsonWithoutResponseHeadersOrOptionalHeaders) {
  AccessLogRecord r;
  r.grpc_status = 12;
  const auto parsed = ParseJson(FormatJson(r));
  const auto& f = parsed.fields();
  EXPECT_EQ(f.size(), 18u);
  EXPECT_EQ(f.at("time_to_first_byte_seconds").kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_EQ(f.at("grpc_status").string_value(), "UNIMPLEMENTED");
  EXPECT_EQ(f.at("traceparent").string_value(), "");
  EXPECT_EQ(f.at("router").string_value(), "");
}

TEST(AccessLogFormatTest, TextIsKeyValuePairs) {
  EXPECT_EQ(FormatText(FullRecord()),
            "time=2025-12-02T07:40:00.123456Z entry_point=web router=api service=api-svc "
            "server=h2c://10.0.0.1:50051 authority=api.example:8080 "
            "method=\"/pkg.Svc/Say\\\"Hi\\\"\\n\\001\\377\" grpc_status=UNAVAILABLE grpc_code=14 "
            "grpc_message=\"no healthy server: tab\\t \\303\\251\" duration=12.3ms "
            "time_to_first_byte=1.5ms "
            "request_bytes=123 response_bytes=4567 retries=2 peer=127.0.0.1:51234 "
            "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 "
            "x_request_id=req-1");
  AccessLogRecord empty;
  EXPECT_THAT(FormatText(empty), HasSubstr(" router=\"\" "));
  EXPECT_THAT(FormatText(empty), HasSubstr(" time_to_first_byte=- "));
}

TEST(AccessLogTest, WritesEveryProducersLinesAsJson) {
  ScratchFile file;
  auto log = AccessLog::Open({.path = file.path()});
  ASSERT_TRUE(log.ok()) << log.status();
  AccessLog::Producer* a = (*log)->AddProducer();
  AccessLog::Producer* b = (*log)->AddProducer();
  for (int i = 0; i < 50; ++i) {
    AccessLogRecord record = FullRecord();
    record.x_request_id = absl::StrCat("a", i);
    ASSERT_TRUE(a->Sample());
    EXPECT_TRUE(a->Write(std::move(record)));
    record = FullRecord();
    record.x_request_id = absl::StrCat("b", i);
    EXPECT_TRUE(b->Write(std::move(record)));
  }
  (*log)->Flush();
  const std::vector<std::string> lines = Lines(file.path());
  ASSERT_EQ(lines.size(), 100u);
  int next_a = 0, next_b = 0;
  for (const std::string& line : lines) {
    const std::string id = ParseJson(line).fields().at("x_request_id").string_value();
    if (id[0] == 'a') {
      EXPECT_EQ(id, absl::StrCat("a", next_a++)) << "a producer's lines keep their order";
    } else {
      EXPECT_EQ(id, absl::StrCat("b", next_b++));
    }
  }
  EXPECT_EQ((*log)->written(), 100u);
  EXPECT_EQ((*log)->dropped(), 0u);
}

TEST(AccessLogTest, AWorkerRacingTheWriterLosesNothingUncounted) {
  ScratchFile file;
  auto log = AccessLog::Open(
      {.path = file.path(), .buffer_lines = 64, .drain_interval = absl::Microseconds(100)});
  ASSERT_TRUE(log.ok()) << log.status();
  AccessLog::Producer* producer = (*log)->AddProducer();
  constexpr int kRecords = 20000;
  std::thread worker([&] {
    for (int i = 0; i < kRecords; ++i) {
      AccessLogRecord record;
      record.x_request_id = absl::StrCat(i);
      producer->Write(std::move(record));
    }
  });
  worker.join();
  (*log)->Flush();
  const std::vector<std::string> lines = Lines(file.path());
  EXPECT_EQ(lines.size() + producer->dropped(), static_cast<size_t>(kRecords));
  EXPECT_EQ((*log)->written(), lines.size());
  int last = -1;
  for (const std::string& line : lines) {
    const std::string id = ParseJson(line).fields().at("x_request_id").string_value();
    int value = std::stoi(id);
    ASSERT_GT(value, last) << "lines out of order or repeated";
    last = value;
  }
}

TEST(AccessLogTest, AFullBufferDropsAndCountsInsteadOfBlocking) {
  ScratchFile file;
  auto log = AccessLog::Open({.path = file.path(), .buffer_lines = 4});
  ASSERT_TRUE(log.ok()) << log.status();
  AccessLog::Producer* worker = (*log)->AddProducer();
  AccessLog::Producer* idle = (*log)->AddProducer();
  (*log)->PauseWriterForTest();  // the disk stalls
  int queued = 0;
  for (int i = 0; i < 10; ++i) queued += worker->Write(FullRecord()) ? 1 : 0;
  // Had Write() blocked on the full ring, the test would not get here.
  EXPECT_EQ(queued, 4);
  EXPECT_EQ(worker->dropped(), 6u);
  EXPECT_EQ(idle->dropped(), 0u);
  EXPECT_EQ((*log)->dropped(), 6u);
  EXPECT_EQ(ReadFile(file.path()), "") << "the paused writer wrote";

  (*log)->ResumeWriter();
  (*log)->Flush();
  EXPECT_EQ(Lines(file.path()).size(), 4u);
  EXPECT_TRUE(worker->Write(FullRecord())) << "room again once drained";
  (*log)->Flush();
  EXPECT_EQ(Lines(file.path()).size(), 5u);
  EXPECT_EQ((*log)->dropped(), 6u);
}

TEST(AccessLogTest, ReopenAfterRenameWritesToTheNewFile) {
  ScratchFile file;
  auto log = AccessLog::Open({.path = file.path(), .format = AccessLogFormat::kText});
  ASSERT_TRUE(log.ok()) << log.status();
  AccessLog::Producer* worker = (*log)->AddProducer();
  AccessLogRecord first = FullRecord();
  first.x_request_id = "first";
  worker->Write(first);
  (*log)->Flush();

  std::filesystem::rename(file.path(), file.path() + ".1");  // logrotate
  AccessLogRecord second = FullRecord();
  second.x_request_id = "second";
  worker->Write(second);
  (*log)->Reopen();
  (*log)->Flush();

  const std::string rotated = ReadFile(file.path() + ".1");
  const std::string fresh = ReadFile(file.path());
  EXPECT_EQ(rotated, FormatText(first) + "\n");
  EXPECT_EQ(fresh, FormatText(second) + "\n");
}

TEST(AccessLogTest, SamplingKeepsAnExactFractionPerProducer) {
  ScratchFile file;
  auto log = AccessLog::Open({.path = file.path(), .sampling = 0.25});
  ASSERT_TRUE(log.ok()) << log.status();
  AccessLog::Producer* worker = (*log)->AddProducer();
  std::string pattern;
  int sampled = 0;
  for (int i = 0; i < 100; ++i) {
    const bool yes = worker->Sample();
    sampled += yes;
    if (i < 8) pattern += yes ? 'x' : '.';
  }
  EXPECT_EQ(sampled, 25);
  EXPECT_EQ(pattern, "...x...x");

  auto all = AccessLog::Open({.path = file.path(), .sampling = 1});
  ASSERT_TRUE(all.ok());
  AccessLog::Producer* every = (*all)->AddProducer();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(every->Sample()) << i;
}

TEST(AccessLogTest, BadOptionsAndPathsAreErrorsNamingThem) {
  auto missing = AccessLog::Open({.path = "/nonexistent-dir/access.log"});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(),
              HasSubstr("accessLog.path /nonexistent-dir/access.log: No such file"));
  auto zero = AccessLog::Open({.path = "-", .sampling = 0});
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("accessLog.sampling must be in (0, 1]"));
}

}  // namespace
}  // namespace strait::observe
