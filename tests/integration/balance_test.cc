// Balancing strategies through strait (wrr, p2c, hash) with real gRPC C++
// backends.
#include <gtest/gtest.h>
