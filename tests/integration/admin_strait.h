#ifndef STRAIT_TESTS_INTEGRATION_ADMIN_STRAIT_H_
#define STRAIT_TESTS_INTEGRATION_ADMIN_STRAIT_H_

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "admin/admin_server.h"
#include "admin/control_plane.h"

namespace strait::testing {

// strait in process as main wires it: the ControlPlane over a config file
// (its Server started, 2 workers) and the AdminServer on 127.0.0.1:0. Used
// from the test thread; the admin server stops before the plane.
struct AdminStrait {
  ~AdminStrait() { Stop(); }
  void Stop() {
    admin.reset();
    plane.reset();
  }

  // Fails the test (fatally: call under ASSERT_NO_FATAL_FAILURE) if a part
  // does not start.
  void Start(const std::string& config_path, const std::string& state_path,
             const std::string& token = "", bool watch = false,
             std::optional<admin::AdminTlsOptions> tls = std::nullopt) {
    absl::StatusOr<std::unique_ptr<admin::ControlPlane>> started =
        admin::ControlPlane::Create({.config_path = config_path,
                                     .state_path = state_path,
                                     .watch = watch,
                                     .server = {.workers = 2}});
    ASSERT_TRUE(started.ok()) << started.status();
    plane = std::move(*started);
    ASSERT_TRUE(plane->Start().ok());
    absl::StatusOr<std::unique_ptr<admin::AdminServer>> serving =
        admin::AdminServer::Start(*plane, {.address = "127.0.0.1:0", .token = token, .tls = tls});
    ASSERT_TRUE(serving.ok()) << serving.status();
    admin = std::move(*serving);
  }

  std::unique_ptr<admin::ControlPlane> plane;
  std::unique_ptr<admin::AdminServer> admin;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_ADMIN_STRAIT_H_
