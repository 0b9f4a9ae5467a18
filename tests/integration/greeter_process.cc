#include "tests/integration/greeter_process.h"

#include <signal.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace strait::testing {

Greeter::Greeter(const std::string& name)
    : process_({GREETER_SERVER_BINARY, "--port", "0", "--name", name}) {
  std::optional<std::string> port =
      process_.WaitForLine("greeter " + name + " listening on 127.0.0.1:", absl::Seconds(30));
  if (port.has_value()) port_ = atoi(port->c_str());
}

void Greeter::FlipHealth() { process_.Signal(SIGUSR1); }

std::optional<std::string> Greeter::WaitForLine(const std::string& prefix, absl::Duration timeout) {
  return process_.WaitForLine(prefix, timeout);
}

void Greeter::Stop() {
  process_.Signal(SIGTERM);
  process_.WaitForExit(absl::Seconds(30));
}

std::string Greeter::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace strait::testing
