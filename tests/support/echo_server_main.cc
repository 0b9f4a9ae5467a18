// A stand-alone echo backend for tests that need to kill a backend for
// real: `echo_server NAME [--health]` listens on 127.0.0.1 (port chosen by
// the system), prints the port on stdout, and serves until killed; with
// --health, gRPC's grpc.health.v1 service too.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/support/test_backend.h"

int main(int argc, char** argv) {
  strait::testing::BackendOptions options;
  options.health = argc > 2 && std::string(argv[2]) == "--health";
  strait::testing::TestBackend backend(argc > 1 ? argv[1] : "child", options);
  printf("%d\n", backend.port());
  fflush(stdout);
  for (;;) pause();
}
