#!/bin/sh
# Install the Debian packages cais needs, skipping those already present.
# Usage: scripts/ensure-system.sh demo|test|bench
set -eu

base="crun runc conmon catatonit tini busybox-static golang-github-containers-common
containernetworking-plugins iptables iproute2 mmdebstrap zstd ca-certificates"
tests="podman skopeo buildah docker-registry apache2-utils uidmap awscli gcc libc6-dev"
bench="hyperfine wrk"

case "${1:-demo}" in
  demo) want="$base" ;;
  test) want="$base $tests" ;;
  bench) want="$base $tests $bench" ;;
  *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  want="$want python3 python3-venv"
fi

missing=""
for pkg in $want; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $pkg" ;;
  esac
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "cais needs these Debian packages (run as root to install):$missing" >&2
    exit 1
  fi
  echo "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
