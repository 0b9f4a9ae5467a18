// A stand-alone echo backend for tests that need to kill a backend for
// real: `echo_server NAME` listens on 127.0.0.1 (port chosen by the system),
// prints the port on stdout, and serves until killed.
#include <unistd.h>

#include <cstdio>

#include "tests/support/test_backend.h"

int main(int argc, char** argv) {
  strait::testing::TestBackend backend(argc > 1 ? argv[1] : "child");
  printf("%d\n", backend.port());
  fflush(stdout);
  for (;;) pause();
}
