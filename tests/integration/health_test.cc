// Active and passive health through strait: real gRPC C++ backends with
// gRPC's own grpc.health.v1 service.
#include <gtest/gtest.h>
