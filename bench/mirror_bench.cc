// A frozen mirror costs the main RPC nothing, a bench (bench/mirror.sh),
// not a test: a 64 MiB client-streaming upload (256 × 256 KiB messages)
// through the real strait process (2 workers) to a live main backend, timed
// and with strait's RSS sampled every 10 ms, for three configurations
// alternated over five rounds:
//   plain      service "s" is the main load balancer itself
//   mirrored   "s" mirrors every RPC to a SIGSTOPped backend (maxBodySize
//              default, 65,535: the copy is cut once it outgrows that)
//   mirrored16 the same with maxBodySize 16 MiB: the copy never opens (the
//              frozen server sends no SETTINGS) and is cut once its unsent
//              bytes pass one stream window
// Prints MiB/s and RSS growth over each process's own warmed-up baseline.
// The deterministic proofs are tests/integration/mirroring_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/rss_sampler.h"
#include "tests/integration/strait_process.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

constexpr size_t kKiB = 1 << 10;
constexpr size_t kMiB = 1 << 20;
constexpr int kMessages = 256;
constexpr size_t kMessageBytes = 256 * kKiB;  // 64 MiB in all
constexpr int kRounds = 5;

std::string Yaml(const std::string& main, const std::string& mirror, size_t max_body) {
  std::string lb = absl::StrCat("{loadBalancer: {servers: [{url: \"h2c://", main, "\"}]}}");
  if (mirror.empty()) {
    return absl::StrCat(R"yaml(entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {r: {rule: "PathPrefix(`/`)", service: s}}
services: {s: )yaml",
                        lb, "}\n");
  }
  return absl::StrCat(R"yaml(entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {r: {rule: "PathPrefix(`/`)", service: s}}
services:
  s: {mirroring: {service: main, mirrors: [{name: shadow, percent: 100}])yaml",
                      max_body ? absl::StrCat(", maxBodySize: ", max_body) : "", "}}\n  main: ",
                      lb, "\n  shadow: {loadBalancer: {servers: [{url: \"h2c://", mirror,
                      "\"}]}}\n");
}

struct Measure {
  double mib_per_s = 0;
  size_t growth_kib = 0;
};

// One 64 MiB upload through `strait`.
Measure Upload(StraitProcess& strait) {
  auto stub = MakeStub(strait.port("web"));
  EchoRequest req;
  req.set_payload(std::string(kMessageBytes, 'm'));
  size_t baseline = strait.ResidentBytes();
  RssSampler sampler(strait);
  absl::Time start = absl::Now();
  grpc::ClientContext ctx;
  EchoResponse resp;
  auto writer = stub->ClientStream(&ctx, &resp);
  for (int i = 0; i < kMessages; ++i) EXPECT_TRUE(writer->Write(req)) << i;
  EXPECT_TRUE(writer->WritesDone());
  EXPECT_TRUE(writer->Finish().ok());
  absl::Duration took = absl::Now() - start;
  size_t peak = sampler.Stop();
  EXPECT_EQ(resp.bytes_received(), static_cast<int64_t>(kMessages * kMessageBytes));
  return Measure{
      .mib_per_s = static_cast<double>(kMessages * kMessageBytes) / kMiB /
                   absl::ToDoubleSeconds(took),
      .growth_kib = (peak - std::min(peak, baseline)) / kKiB,
  };
}

TEST(MirrorBench, SixtyFourMibUploadWithAFrozenMirrorRunsAsWithout) {
  TestBackend main("main");
  ChildBackend frozen("frozen");
  std::map<std::string, std::unique_ptr<StraitProcess>> straits;
  const std::vector<std::string> args = {"--workers", "2"};
  straits["plain"] = std::make_unique<StraitProcess>(Yaml(main.address(), "", 0), args);
  straits["mirrored"] =
      std::make_unique<StraitProcess>(Yaml(main.address(), frozen.address(), 0), args);
  straits["mirrored16"] =
      std::make_unique<StraitProcess>(Yaml(main.address(), frozen.address(), 16 * kMiB), args);
  frozen.Freeze();
  for (auto& [name, strait] : straits) {
    ASSERT_TRUE(strait->started()) << name;
    Upload(*strait);  // warm up: connections, allocator
  }
  std::map<std::string, std::vector<Measure>> runs;
  for (int round = 0; round < kRounds; ++round) {
    for (auto& [name, strait] : straits) runs[name].push_back(Upload(*strait));
  }
  std::cout << "64 MiB upload, 2 workers, mirror SIGSTOPped:\n";
  for (const auto& [name, list] : runs) {
    std::cout << "  " << name << ":";
    for (const Measure& r : list) {
      std::cout << "  " << static_cast<int>(r.mib_per_s) << " MiB/s (RSS +" << r.growth_kib
                << " KiB)";
    }
    std::vector<double> speeds;
    for (const Measure& r : list) speeds.push_back(r.mib_per_s);
    std::sort(speeds.begin(), speeds.end());
    std::cout << "\n    median " << static_cast<int>(speeds[speeds.size() / 2])
              << " MiB/s; RSS " << straits[name]->ResidentBytes() / kKiB << " KiB after\n";
  }
  frozen.Kill();
}

}  // namespace
}  // namespace strait::testing
