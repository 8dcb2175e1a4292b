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

step "Build an image from a Dockerfile: a small web service (busybox httpd)"
mkdir -p "$work/web/site"
cat > "$work/web/Dockerfile" <<'DOCKERFILE'
FROM busybox
ARG VERSION=dev
LABEL org.example.service=hello-web
WORKDIR /www
COPY site/ ./
RUN echo "hello-web $VERSION" > version.txt
RUN <<EOF
echo "ok" > health
echo "web:x:1000:1000:web:/www:/bin/false" >> /etc/passwd
echo "web:x:1000:" >> /etc/group
EOF
USER web
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=2s CMD wget -q -O- http://127.0.0.1:8080/health || exit 1
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
DOCKERFILE
printf '<h1>Hello from an image cais built</h1>\n' > "$work/web/site/index.html"
printf 'site/secret.txt\n' > "$work/web/.dockerignore"
printf 'not in the image\n' > "$work/web/site/secret.txt"
run cais build --progress plain --build-arg VERSION=1.0 -t cais-demo/web:1.0 "$work/web"

step "Build again: every step comes from the cache, and the image ID is the same"
run cais build --build-arg VERSION=1.0 -t cais-demo/web:1.0 "$work/web"
run cais history cais-demo/web:1.0

step "Run the service and ask it for its pages"
run cais run -d --name cais-demo-web cais-demo/web:1.0
sleep 1
run cais exec cais-demo-web wget -q -O- http://127.0.0.1:8080/
run cais exec cais-demo-web wget -q -O- http://127.0.0.1:8080/version.txt
run cais exec cais-demo-web sh -c 'id; ls /www'
run cais rm -f cais-demo-web
run cais rmi cais-demo/web:1.0
run cais builder prune -f

step "Done"
