# strait's images, built from this source tree:
#
#   docker build -t strait .                               strait (the default target)
#   docker build --target greeter -t strait-greeter .      the demo greeter backend
#   docker build --build-arg REVISION=$(git describe --always --dirty) -t strait .
#
# The build stage compiles strait once and packages it as a .deb
# (cmake/StraitPackage.cmake); the runtime stage installs that .deb with
# apt, so every image is also a test of the package. docker-compose.yml
# runs both images.

FROM debian:bookworm-slim AS build
# The build dependencies of scripts/bootstrap.sh, without the test ones;
# dpkg-dev and file for CPack's dpkg-shlibdeps.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake ninja-build pkg-config dpkg-dev file \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto \
      libnghttp2-dev libabsl-dev libssl-dev libyaml-cpp-dev libevent-dev libcpp-httplib-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the two targets are built from, so a change to tests or docs
# does not recompile strait.
COPY CMakeLists.txt ./
COPY cmake/*.cmake cmake/
COPY proto proto
COPY src src
COPY examples/CMakeLists.txt examples/
COPY examples/greeter examples/greeter
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRAIT_BUILD_TESTS=OFF \
 && cmake --build build --target strait greeter_server
# No .git in the context: the revision comes from --build-arg ("unknown"
# without). Set after the full build, so a new revision only recompiles
# version.cc and relinks strait instead of missing the cache above.
ARG REVISION=unknown
RUN cmake -S . -B build -DSTRAIT_GIT_REVISION="${REVISION}" \
 && cmake --build build --target strait
# The .deb's unit, default config and maintainer scripts: needed only by
# cpack, so editing them does not recompile either.
COPY cmake/deb cmake/deb
RUN strip build/examples/greeter/greeter_server \
 && cd build && cpack -G DEB \
 && mkdir /out && cp strait_*.deb examples/greeter/greeter_server /out/

# strait, installed from its .deb; runs as the package's strait user.
FROM debian:bookworm-slim AS runtime
COPY --from=build /out/strait_*.deb /tmp/
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/strait_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/strait_*.deb
USER strait
WORKDIR /var/lib/strait
# Data (the default config's entry point), admin gRPC, Prometheus metrics.
EXPOSE 8080 9901 9902
# strait's own grpc.health.v1, through its admin port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["strait", "probe", "127.0.0.1:9901"]
ENTRYPOINT ["strait"]
CMD ["--config", "/etc/strait/strait.yaml", "--state", "/var/lib/strait/state.json", \
     "--admin", "0.0.0.0:9901", "--metrics", "0.0.0.0:9902"]

# The demo backend (examples/greeter): the same base and libraries as
# strait's image, so `strait probe` is its healthcheck too.
FROM runtime AS greeter
COPY --from=build /out/greeter_server /usr/bin/greeter_server
USER nobody
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["strait", "probe", "127.0.0.1:50051"]
ENTRYPOINT ["greeter_server", "--host", "0.0.0.0", "--port", "50051"]
CMD ["--name", "greeter"]

# The default target: strait.
FROM runtime
