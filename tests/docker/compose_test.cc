// The shipped artefacts under a real Docker engine: the images the
// Dockerfile builds, the top-level docker-compose.yml (strait in front of two
// greeters) and examples/compose-sidecar, and the .deb inside the image.
//
// docker-setup.sh (run once, before the tests) starts dockerd if none runs,
// makes the debian:bookworm-slim base with debootstrap when it is absent and
// builds the images. Each stack gets its own compose project name and is
// torn down with `down -v`, after which nothing labelled with that project
// may remain. Containers are reached only through the ports the stacks
// publish on 127.0.0.1 (8080 data, 9901 admin, 9902 metrics), so those ports
// must be free; the test says so when they are not.
//
// Where Docker cannot run the tests skip, unless CI=true: there they fail.
// Every command and wait has a deadline; ctest's TIMEOUT bounds the whole.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "examples/greeter/greeter.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "strait/admin/v1/admin.grpc.pb.h"

namespace strait::testing {
namespace {

namespace admin_v1 = ::strait::admin::v1;
using std::chrono::seconds;

constexpr char kSourceDir[] = STRAIT_SOURCE_DIR;
constexpr char kWorkDir[] = STRAIT_DOCKER_WORK_DIR;
constexpr int kPublishedPorts[] = {8080, 9901, 9902};

// What a shell command printed (stdout and stderr) and its exit status.
struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult Shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(("(" + command + ") 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

// $DOCKER, else Debian's client, which matches Debian's daemon
// (docker-setup.sh says why).
std::string Docker() {
  if (const char* docker = std::getenv("DOCKER"); docker != nullptr && *docker != '\0') {
    return docker;
  }
  return access("/usr/bin/docker", X_OK) == 0 ? "/usr/bin/docker" : "docker";
}

// docker-compose 1.29 where installed, else Compose v2.
std::string Compose() {
  return Shell("command -v docker-compose").status == 0 ? "docker-compose" : Docker() + " compose";
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// docker-setup.sh's outcome, shared by every test of the binary.
struct DockerReadiness {
  bool ready = false;
  bool docker_missing = false;
  std::string log;
};

const DockerReadiness& DockerSetup() {
  static const DockerReadiness readiness = [] {
    DockerReadiness s;
    CommandResult r =
        Shell(absl::StrCat("timeout 1300 bash ", kSourceDir, "/tests/docker/docker-setup.sh ",
                           kSourceDir, " ", kWorkDir));
    s.ready = r.status == 0;
    s.docker_missing = r.status == 3;
    s.log = r.output;
    return s;
  }();
  return readiness;
}

// Fails naming the port when something already listens on 127.0.0.1:port.
::testing::AssertionResult PortIsFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  if (free) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "127.0.0.1:" << port << " is taken; the compose stacks publish 8080, 9901 and "
         << "9902 on 127.0.0.1 and need them free (`ss -ltnp` names the holder)";
}

// One compose project: `up -d` in the constructor's caller, `down -v` in the
// destructor whatever happened, and a check that nothing of it remains.
class ComposeStack {
 public:
  ComposeStack(std::string file, std::string project)
      : file_(std::move(file)), project_(std::move(project)) {}
  ~ComposeStack() {
    if (up_) Down();
  }

  // Starts the stack; compose waits for the service_healthy dependencies.
  CommandResult Up() {
    up_ = true;
    return Compose("up -d --no-build");
  }

  CommandResult Down() {
    up_ = false;
    return Compose("down -v --remove-orphans --timeout 10");
  }

  CommandResult Compose(const std::string& args) const {
    return Shell(absl::StrCat("timeout 300 ", ::strait::testing::Compose(), " -p ", project_,
                              " -f ", file_, " ", args));
  }

  // What Docker still holds of the project: containers, networks, volumes.
  std::string Leftovers() const {
    std::string filter = absl::StrCat("--filter label=com.docker.compose.project=", project_);
    std::string left;
    for (const char* kind : {"ps -a -q", "network ls -q", "volume ls -q"}) {
      CommandResult r = Shell(absl::StrCat(Docker(), " ", kind, " ", filter));
      std::string out(absl::StripAsciiWhitespace(r.output));
      if (r.status != 0 || !out.empty()) absl::StrAppend(&left, kind, ": ", out, "\n");
    }
    return left;
  }

  // The last lines each service logged, for a failure message.
  std::string Logs() const { return Compose("logs --no-color --tail 40").output; }

 private:
  const std::string file_;
  const std::string project_;
  bool up_ = false;
};

std::string ProjectName(const std::string& stack) {
  return absl::StrCat("strait", stack, getpid());
}

std::shared_ptr<grpc::Channel> Channel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

// Waits (wait_for_ready, bounded) until strait's admin says SERVING: until
// then docker-proxy accepts and drops connections.
::testing::AssertionResult StraitServes(seconds within) {
  auto health = grpc::health::v1::Health::NewStub(Channel(9901));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + within);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, request, &response);
  if (status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "strait's admin health on 127.0.0.1:9901: " << status.error_message() << " "
         << response.status();
}

// Follows the admin Watch stream until every URL is healthy.
::testing::AssertionResult ServersHealthy(std::set<std::string> urls, seconds within) {
  auto admin = admin_v1::Admin::NewStub(Channel(9901));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + within);
  auto stream = admin->Watch(&context, admin_v1::WatchRequest());
  std::map<std::string, bool> healthy;
  admin_v1::WatchEvent event;
  while (stream->Read(&event)) {
    if (event.kind() == admin_v1::WatchEvent::SERVER_STATE ||
        event.kind() == admin_v1::WatchEvent::HEALTH_CHANGED) {
      healthy[event.url()] = event.healthy();
    }
    bool all = true;
    for (const std::string& url : urls) all = all && healthy[url];
    if (all) {
      context.TryCancel();
      return ::testing::AssertionSuccess();
    }
  }
  std::vector<std::string> seen;
  for (const auto& [url, up] : healthy) seen.push_back(absl::StrCat(url, up ? "=up" : "=down"));
  return ::testing::AssertionFailure() << "servers not all healthy: " << absl::StrJoin(seen, ", ")
                                       << " (" << stream->Finish().error_message() << ")";
}

// One SayHello through strait's published data port; "" on an error, with
// the status in *error.
std::string SayHello(helloworld::Greeter::Stub& greeter, std::string* error) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  helloworld::HelloRequest request;
  request.set_name("compose");
  helloworld::HelloReply reply;
  grpc::Status status = greeter.SayHello(&context, request, &reply);
  if (!status.ok()) {
    *error = absl::StrCat(status.error_code(), " ", status.error_message());
    return "";
  }
  return reply.message();
}

// "Hello compose from a" -> "a".
std::string AnsweredBy(const std::string& message) {
  size_t at = message.rfind(" from ");
  return at == std::string::npos ? message : message.substr(at + 6);
}

// The sum of strait_rpcs_total over methods for these labels.
double RpcsTotal(const std::string& metrics, const std::string& router, const std::string& service,
                 const std::string& grpc_status) {
  const std::regex line(absl::StrCat(R"(strait_rpcs_total\{entry_point="web",grpc_status=")",
                                     grpc_status, R"(",method="[^"]*",router=")", router,
                                     R"(",service=")", service, R"("\} (\S+))"));
  double total = 0;
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), line), end; it != end; ++it) {
    total += std::stod((*it)[1].str());
  }
  return total;
}

std::string Metrics() {
  httplib::Client http("127.0.0.1", 9902);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  httplib::Result got = http.Get("/metrics");
  if (!got || got->status != 200) return "";
  return got->body;
}

// Skips (or, in CI, fails) when Docker cannot run; fails when the setup
// itself broke.
class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const DockerReadiness& docker = DockerSetup();
    if (docker.docker_missing && !InCi()) GTEST_SKIP() << "Docker cannot run: " << docker.log;
    ASSERT_TRUE(docker.ready) << "docker-setup.sh failed:\n" << docker.log;
  }

  static void RequirePortsFree() {
    for (int port : kPublishedPorts) ASSERT_TRUE(PortIsFree(port));
  }
};

// The top-level stack: RPCs alternate a, b; after DrainServer(a) every RPC
// is b's; the metrics count them; down -v leaves nothing.
TEST_F(ComposeTest, StackBalancesDrainsCountsAndLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(RequirePortsFree());
  ComposeStack stack(absl::StrCat(kSourceDir, "/docker-compose.yml"), ProjectName("stack"));
  {
    CommandResult up = stack.Up();
    ASSERT_EQ(up.status, 0) << up.output << stack.Logs();
    ASSERT_TRUE(StraitServes(seconds(90))) << stack.Logs();
    ASSERT_TRUE(ServersHealthy({"h2c://greeter-a:50051", "h2c://greeter-b:50051"}, seconds(60)))
        << stack.Logs();

    // One channel, so one connection and one worker: strict wrr turns.
    auto greeter = helloworld::Greeter::NewStub(Channel(8080));
    std::vector<std::string> before;
    for (int i = 0; i < 10; ++i) {
      std::string error;
      std::string message = SayHello(*greeter, &error);
      ASSERT_FALSE(message.empty()) << "RPC " << i << ": " << error << "\n" << stack.Logs();
      before.push_back(AnsweredBy(message));
    }
    EXPECT_EQ(std::set<std::string>(before.begin(), before.end()),
              (std::set<std::string>{"a", "b"}))
        << absl::StrJoin(before, " ");
    for (size_t i = 1; i < before.size(); ++i) {
      EXPECT_NE(before[i], before[i - 1]) << "not alternating: " << absl::StrJoin(before, " ");
    }

    auto admin = admin_v1::Admin::NewStub(Channel(9901));
    grpc::ClientContext drain_context;
    drain_context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    admin_v1::DrainServerRequest drain;
    drain.set_url("h2c://greeter-a:50051");
    admin_v1::DrainServerResponse drained;
    grpc::Status status = admin->DrainServer(&drain_context, drain, &drained);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(absl::StrJoin(drained.services(), ","), "greeter");

    std::vector<std::string> after;
    for (int i = 0; i < 10; ++i) {
      std::string error;
      std::string message = SayHello(*greeter, &error);
      ASSERT_FALSE(message.empty()) << "RPC " << i << " after the drain: " << error;
      after.push_back(AnsweredBy(message));
    }
    EXPECT_EQ(std::set<std::string>(after.begin(), after.end()), std::set<std::string>{"b"})
        << "after draining a: " << absl::StrJoin(after, " ");

    std::string metrics = Metrics();
    ASSERT_FALSE(metrics.empty()) << "GET 127.0.0.1:9902/metrics failed";
    EXPECT_EQ(RpcsTotal(metrics, "greeter", "greeter", "OK"), 20) << metrics;
    EXPECT_EQ(RpcsTotal(metrics, "greeter", "greeter", "UNAVAILABLE"), 0);
  }
  CommandResult down = stack.Down();
  EXPECT_EQ(down.status, 0) << down.output;
  EXPECT_EQ(stack.Leftovers(), "");
}

// The sidecar stack: strait in app's network namespace answers on the app's
// published port with the app's reply.
TEST_F(ComposeTest, SidecarAnswersForItsApp) {
  ASSERT_NO_FATAL_FAILURE(RequirePortsFree());
  ComposeStack stack(absl::StrCat(kSourceDir, "/examples/compose-sidecar/docker-compose.yml"),
                     ProjectName("sidecar"));
  {
    CommandResult up = stack.Up();
    ASSERT_EQ(up.status, 0) << up.output << stack.Logs();
    ASSERT_TRUE(StraitServes(seconds(90))) << stack.Logs();
    ASSERT_TRUE(ServersHealthy({"h2c://127.0.0.1:50051"}, seconds(60))) << stack.Logs();
    auto greeter = helloworld::Greeter::NewStub(Channel(8080));
    for (int i = 0; i < 3; ++i) {
      std::string error;
      EXPECT_EQ(SayHello(*greeter, &error), "Hello compose from app") << error;
    }
    EXPECT_EQ(RpcsTotal(Metrics(), "app", "app", "OK"), 3);
  }
  CommandResult down = stack.Down();
  EXPECT_EQ(down.status, 0) << down.output;
  EXPECT_EQ(stack.Leftovers(), "");
}

// The .deb the image build made, and the image's installed package.
TEST_F(ComposeTest, PackageHoldsTheBinaryUnitAndConffile) {
  CommandResult deb = Shell(absl::StrCat("ls ", kWorkDir, "/deb/strait_*.deb"));
  ASSERT_EQ(deb.status, 0) << deb.output;
  std::string path(absl::StripAsciiWhitespace(deb.output));

  CommandResult contents = Shell("dpkg-deb --contents " + path);
  ASSERT_EQ(contents.status, 0) << contents.output;
  for (const char* file :
       {"./usr/bin/strait", "./lib/systemd/system/strait.service", "./etc/strait/strait.yaml"}) {
    EXPECT_TRUE(absl::StrContains(contents.output, file)) << file << " missing:\n"
                                                          << contents.output;
  }
  CommandResult conffiles =
      Shell(absl::StrCat("dpkg-deb --ctrl-tarfile ", path, " | tar -xO ./conffiles"));
  EXPECT_EQ(absl::StripAsciiWhitespace(conffiles.output), "/etc/strait/strait.yaml");
  CommandResult depends = Shell("dpkg-deb -f " + path + " Depends");
  EXPECT_TRUE(absl::StrContains(depends.output, "libgrpc++")) << depends.output;
  EXPECT_TRUE(absl::StrContains(depends.output, "adduser")) << depends.output;

  CommandResult installed = Shell(Docker() + " run --rm --entrypoint dpkg strait:dev -s strait");
  EXPECT_TRUE(absl::StrContains(installed.output, "Status: install ok installed"))
      << installed.output;
  CommandResult user = Shell(Docker() + " run --rm --entrypoint id strait:dev -un");
  EXPECT_EQ(absl::StripAsciiWhitespace(user.output), "strait");
  CommandResult check = Shell(Docker() + " run --rm strait:dev --check /etc/strait/strait.yaml");
  EXPECT_EQ(check.status, 0) << check.output;
}

// `apt-get install ./strait_*.deb` on a clean Debian 12 with systemd as PID 1
// gives an enabled, running service that answers its health probe and
// reloads; purge stops it and removes its state directory.
TEST_F(ComposeTest, PackageInstallsARunningServiceUnderSystemd) {
  CommandResult image =
      Shell(absl::StrCat("timeout 600 ", Docker(), " build -q -t strait-systemd-test:dev ",
                         kSourceDir, "/tests/docker/systemd"));
  ASSERT_EQ(image.status, 0) << image.output;
  CommandResult deb = Shell(absl::StrCat("ls ", kWorkDir, "/deb/strait_*.deb"));
  ASSERT_EQ(deb.status, 0) << deb.output;
  std::string path(absl::StripAsciiWhitespace(deb.output));

  // systemd in a container: its own cgroup namespace, tmpfs /run, and the
  // capability to mount what it needs.
  CommandResult run = Shell(absl::StrCat(
      Docker(), " run -d --cap-add SYS_ADMIN --security-opt seccomp=unconfined",
      " --security-opt apparmor=unconfined --cgroupns=private --tmpfs /run --tmpfs /run/lock",
      " -v ", path, ":/tmp/strait.deb:ro strait-systemd-test:dev"));
  ASSERT_EQ(run.status, 0) << run.output;
  std::string container(absl::StripAsciiWhitespace(run.output));
  struct Remove {
    std::string id;
    ~Remove() { Shell(absl::StrCat(Docker(), " rm -f ", id)); }
  } remove{container};
  auto exec = [&](const std::string& command) {
    return Shell(
        absl::StrCat("timeout 300 ", Docker(), " exec ", container, " sh -c '", command, "'"));
  };

  // systemctl talks to PID 1 on /run/systemd/private, there once it booted.
  CommandResult booted = exec(
      "timeout 60 sh -c \"until test -S /run/systemd/private; do sleep 0.2; done\" && "
      "systemctl is-system-running --wait");
  ASSERT_TRUE(absl::StrContains(booted.output, "running") ||
              absl::StrContains(booted.output, "degraded"))
      << booted.output;
  CommandResult install = exec(
      "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
      "--no-install-recommends /tmp/strait.deb");
  ASSERT_EQ(install.status, 0) << install.output;
  EXPECT_EQ(exec("systemctl is-enabled strait").output, "enabled\n");
  EXPECT_EQ(exec("systemctl is-active strait").output, "active\n")
      << exec("journalctl -u strait --no-pager").output;
  // Type=simple: active once started, serving once its listeners are bound.
  CommandResult probe =
      exec("timeout 30 sh -c \"until strait probe 127.0.0.1:9901; do sleep 0.2; done\"");
  EXPECT_EQ(probe.status, 0) << probe.output << exec("journalctl -u strait --no-pager").output;
  EXPECT_EQ(exec("stat -c %U /var/lib/strait").output, "strait\n");
  CommandResult reload = exec("systemctl reload strait");
  EXPECT_EQ(reload.status, 0) << reload.output << exec("journalctl -u strait --no-pager").output;

  CommandResult purge = exec("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q strait");
  ASSERT_EQ(purge.status, 0) << purge.output;
  EXPECT_NE(exec("systemctl is-active strait").output, "active\n");
  EXPECT_NE(exec("test -e /var/lib/strait").status, 0);
}

}  // namespace
}  // namespace strait::testing
