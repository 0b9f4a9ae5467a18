# The strait .deb (`cpack -G DEB` in the build dir, or the `package`
# target): /usr/bin/strait, the commented default /etc/strait/strait.yaml
# (a conffile), the systemd unit, and maintainer scripts that make the
# strait user and enable the unit where systemd runs (cmake/deb/).
# Depends comes from dpkg-shlibdeps (Debian's dpkg-dev) plus adduser, which
# postinst runs. Only the "strait" component is packaged, so examples and
# tests that also have install rules never reach the .deb.
#
# The unit and config go to absolute paths: the .deb is the one consumer of
# these rules (a `cmake --install` to another prefix still puts them there).
install(FILES ${CMAKE_CURRENT_LIST_DIR}/deb/strait.yaml
        DESTINATION /etc/strait COMPONENT strait)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/deb/strait.service
        DESTINATION /lib/systemd/system COMPONENT strait)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME strait)
set(CPACK_PACKAGE_VENDOR "strait")
set(CPACK_PACKAGE_CONTACT "strait maintainers <strait@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "gRPC L7 load balancer")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL strait)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_MONOLITHIC_INSTALL OFF)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # strait_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION
    "strait routes gRPC calls (not connections) over HTTP/2 to healthy backends, with grpc.health.v1 checks, drains, retries, a gRPC admin API and Prometheus metrics.")
set(CPACK_STRIP_FILES ON)   # the debug info stays in the build tree
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/deb/conffiles
    ${CMAKE_CURRENT_LIST_DIR}/deb/postinst
    ${CMAKE_CURRENT_LIST_DIR}/deb/prerm
    ${CMAKE_CURRENT_LIST_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
