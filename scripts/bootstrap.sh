#!/usr/bin/env bash
# Installs every Debian 12 package strait's build, tests and demo need.
# Idempotent: does nothing when all are present.
#
# libcpp-httplib-dev serves /metrics; prometheus ships promtool (and the
# server the observability integration test scrapes with).
#
# docker.io, docker-compose and debootstrap run tests/docker (the images,
# the compose stacks; debootstrap makes the base image, as no registry may
# be reachable); dpkg-dev and file let cpack compute the .deb's Depends.
#
# python3 reads grpcurl's JSON in the admin scripts (examples/admin/*.sh),
# which examples_test runs as they are.
#
# The Go packages build the grpc-go interop peers (tests/interop/go) offline.
# golang-github-golang-protobuf-1-5-dev is named because grpc-go accepts 1.3
# or 1.5 and apt would pick 1.3, which cannot marshal the messages that
# protoc-gen-go generates; 1.5 replaces it.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libnghttp2-dev libabsl-dev libssl-dev libyaml-cpp-dev libevent-dev
  libgtest-dev libgmock-dev
  libcpp-httplib-dev prometheus
  nghttp2-client openssl python3
  golang-go golang-google-grpc-dev golang-google-protobuf-dev protoc-gen-go protoc-gen-go-grpc
  golang-github-golang-protobuf-1-5-dev
  nodejs npm
  docker.io docker-compose debootstrap dpkg-dev file
)

missing=()
for p in "${packages[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "bootstrap: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
