#!/usr/bin/env bash
# docker-setup.sh SOURCE_DIR WORK_DIR: makes a Docker engine ready for
# compose_test and builds strait's images from SOURCE_DIR.
#
#  - starts Debian's dockerd when none answers (root only; log in WORK_DIR);
#  - makes the base image debian:bookworm-slim with debootstrap when it is
#    absent (no registry is reachable), keeping the rootfs tarball in
#    WORK_DIR so a second run on the same build tree skips debootstrap;
#  - builds the images docker-compose.yml names (strait:dev,
#    strait-greeter:dev) with the classic builder, which docker-compose
#    1.29 also uses, and copies the .deb the build stage made to
#    WORK_DIR/deb/.
#
# Exit 0 ready; 3 Docker cannot run here (no docker, or no daemon and no
# root to start one); anything else a real failure. Every wait is bounded.
set -euo pipefail
source_dir=$1
work_dir=$2
mkdir -p "$work_dir"
log() { echo "docker-setup: $*" >&2; }

# Debian's client (20.10) first: it matches Debian's daemon; a newer client
# elsewhere on PATH may default to BuildKit, which that daemon lacks.
docker=${DOCKER:-}
if [ -z "$docker" ]; then
  if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=$(command -v docker || true); fi
fi
if [ -z "$docker" ] || ! [ -x "$(command -v "$docker")" ]; then log "no docker client"; exit 3; fi
export DOCKER_BUILDKIT=0

if ! timeout 20 "$docker" info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v dockerd >/dev/null; then
    log "no Docker daemon answers, and cannot start one (need root and dockerd)"
    exit 3
  fi
  log "starting dockerd (log: $work_dir/dockerd.log)"
  # Its own session, so it outlives this test and holds none of its pipes.
  setsid nohup dockerd </dev/null >"$work_dir/dockerd.log" 2>&1 &
  for _ in $(seq 60); do
    if timeout 5 "$docker" info >/dev/null 2>&1; then break; fi
    sleep 1
  done
  if ! timeout 20 "$docker" info >/dev/null 2>&1; then
    log "dockerd did not come up in 60 s"; tail -20 "$work_dir/dockerd.log" >&2; exit 3
  fi
fi

if ! "$docker" image inspect debian:bookworm-slim >/dev/null 2>&1; then
  tarball=$work_dir/bookworm-rootfs.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { log "debian:bookworm-slim is absent and there is no debootstrap"; exit 1; }
    rootfs=$(mktemp -d "$work_dir/rootfs.XXXXXX")
    log "debootstrap bookworm into $rootfs"
    timeout 600 debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
      >"$work_dir/debootstrap.log" 2>&1 || { tail -20 "$work_dir/debootstrap.log" >&2; exit 1; }
    # As Docker's debian:*-slim: no package lists or caches (every image
    # runs apt-get update first); 80 MB less in each image.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . >"$tarball.part"
    mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  log "docker import debian:bookworm-slim"
  "$docker" import "$tarball" debian:bookworm-slim >/dev/null
fi

# The revision of the last commit that changed what the build stage copies
# (a newer commit elsewhere would only defeat the build cache).
revision=$(git -C "$source_dir" log -1 --format=%h -- CMakeLists.txt cmake/*.cmake proto src \
             examples/CMakeLists.txt examples/greeter 2>/dev/null || true)
revision=${revision:-unknown}
replaced=()
for target in build:strait-build:dev runtime:strait:dev greeter:strait-greeter:dev; do
  stage=${target%%:*}
  tag=${target#*:}
  replaced+=("$("$docker" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)")
  log "docker build --target $stage -t $tag"
  timeout 1200 "$docker" build --target "$stage" -t "$tag" --build-arg REVISION="$revision" \
    "$source_dir" >"$work_dir/build-$stage.log" 2>&1 || { tail -40 "$work_dir/build-$stage.log" >&2; exit 1; }
done

# A rebuild leaves the previous images untagged (1.5 GB a source change):
# remove those this script tagged before, unless still tagged or in use.
for id in "${replaced[@]}"; do
  if [ -n "$id" ] && [ -z "$("$docker" image inspect -f '{{join .RepoTags ","}}' "$id" 2>/dev/null)" ]; then
    "$docker" rmi "$id" >/dev/null 2>&1 || true
  fi
done

rm -rf "$work_dir/deb"
mkdir -p "$work_dir/deb"
container=$("$docker" create strait-build:dev true)
"$docker" cp "$container:/out/." "$work_dir/deb/"
"$docker" rm "$container" >/dev/null
rm -f "$work_dir/deb/greeter_server"
ls "$work_dir"/deb/strait_*.deb >/dev/null
