#!/bin/sh
# The cais demo: a newcomer's walk through the platform, on the embedded defaults
# (state under /var/lib/cais). It cleans up what it made and leaves nothing running.
set -eu

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

work=$(mktemp -d /tmp/cais-demo.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

step "What cais runs on"
run cais info

step "Images are immutable, layered and content-addressed: make a base image locally"
run cais image bootstrap busybox
run cais images
run cais image inspect busybox --format 'ID {{.Id}}  layers {{json .RootFS.Layers}}  cmd {{json .Config.Cmd}}'
run cais history busybox

step "Save to an archive Docker and Podman read, remove, load it back: same ID"
run cais tag busybox cais-demo/box:v1
run cais save -o "$work/box.tar" cais-demo/box:v1
ls -l "$work/box.tar"
run cais rmi cais-demo/box:v1
run cais load -i "$work/box.tar"
run cais images --digests
run cais system df
run cais rmi cais-demo/box:v1

step "Done"
