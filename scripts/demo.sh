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

step "Containers: an image plus a thin read/write layer, isolated and limited"
run cais run --rm busybox sh -c 'echo "hello from $(hostname)"; id; ps'
run cais run -d --name cais-demo-web -m 64m --pids-limit 64 --health-cmd 'test -f /tmp/up' \
    --health-interval 1s busybox sh -c 'touch /tmp/up; i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 1; done'
sleep 3
run cais ps
run cais logs --tail 3 cais-demo-web
run cais exec cais-demo-web sh -c 'echo changed > /etc/motd; rm /bin/vi; cat /proc/1/status | grep -E "^(Cap|Seccomp)"'
run cais diff cais-demo-web
run cais stats --no-stream cais-demo-web
run cais stop -t 1 cais-demo-web
run cais ps -a --filter name=cais-demo
run cais rm cais-demo-web
run cais system monitor stop

step "Networks: containers find each other by name; a published port serves the host"
run cais network create cais-demo-net
run cais run -d --name cais-demo-api --network cais-demo-net --network-alias api busybox \
    sh -c 'mkdir -p /www && echo "hello from the api container" > /www/index.html && httpd -f -p 80 -h /www'
run cais run -d --name cais-demo-front --network cais-demo-net -p 18088:8080 busybox \
    sh -c 'mkdir -p /www/cgi-bin && printf "#!/bin/sh\necho Content-Type: text/plain\necho\nwget -qO- http://api/\n" > /www/cgi-bin/hello && chmod +x /www/cgi-bin/hello && httpd -f -p 8080 -h /www'
sleep 1
run cais ps
run cais exec cais-demo-front wget -qO- http://api/
printf '$ curl http://127.0.0.1:18088/cgi-bin/hello\n'
python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:18088/cgi-bin/hello', timeout=5).read().decode(), end='')"
run cais port cais-demo-front
run cais rm -f cais-demo-api cais-demo-front
run cais network rm cais-demo-net
run cais system monitor stop

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

step "Run the service with its port published, and ask it for its pages"
web_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run cais run -d --name cais-demo-built -p "$web_port:8080" cais-demo/web:1.0
sleep 1
for page in / /version.txt; do
  printf '$ curl http://127.0.0.1:%s%s\n' "$web_port" "$page"
  python3 -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end='')" "http://127.0.0.1:$web_port$page"
done
run cais exec cais-demo-built sh -c 'id; ls /www'
run cais rm -f cais-demo-built

step "Amazon ECR on your machine: 'cais up' serves the registry and the ECR API on one port"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cais up --port "$port" --lifecycle-interval 0 >"$work/up.out" 2>"$work/up.log" &
up_pid=$!
stop_up() {
  if kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid"
    wait "$up_pid" || true
  fi
}
trap 'stop_up; cleanup' EXIT
tries=0
until grep -q "serving on" "$work/up.out" 2>/dev/null; do
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ] || ! kill -0 "$up_pid" 2>/dev/null; then
    cat "$work/up.log" >&2
    echo "cais up did not start" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$work/up.out"

# the aws CLI with the local default key pair (cais up --help says more), and empty
# config files so that the user's own AWS profile plays no part
: >"$work/aws-config"
: >"$work/aws-credentials"
export AWS_ACCESS_KEY_ID=AKIACAISLOCALDEFAULT
export AWS_SECRET_ACCESS_KEY=caisLocalDefaultSecretKeyNotForProduction
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
endpoint="http://127.0.0.1:$port"
registry="localhost:$port"
aws --endpoint-url "$endpoint" ecr delete-repository --repository-name cais-demo/web --force >/dev/null 2>&1 || true
run aws --endpoint-url "$endpoint" ecr create-repository --repository-name cais-demo/web --image-tag-mutability IMMUTABLE

step "Log in with the ECR token, push the image we built, pull it back and run it"
printf '$ aws ecr get-login-password | cais login -u AWS --password-stdin %s\n' "$registry"
aws --endpoint-url "$endpoint" ecr get-login-password \
  | cais login -u AWS --password-stdin "$registry"
run cais tag cais-demo/web:1.0 "$registry/cais-demo/web:1.0"
run cais push "$registry/cais-demo/web:1.0"
run cais rmi cais-demo/web:1.0 "$registry/cais-demo/web:1.0"
run cais pull "$registry/cais-demo/web:1.0"
run cais run --rm "$registry/cais-demo/web:1.0" cat /www/version.txt
run cais rmi "$registry/cais-demo/web:1.0"
run cais logout "$registry"
run aws --endpoint-url "$endpoint" ecr describe-images --repository-name cais-demo/web

step "Amazon ECS: a task definition, a task on this machine (cais up's own agent), its logs"
run aws --endpoint-url "$endpoint" ecs list-container-instances
cat >"$work/taskdef.json" <<TASKDEF
{"family": "cais-demo-web", "networkMode": "bridge", "containerDefinitions": [
  {"name": "web", "image": "$registry/cais-demo/web:1.0", "memory": 64, "stopTimeout": 2,
   "portMappings": [{"containerPort": 8080, "hostPort": 0}],
   "healthCheck": {"command": ["CMD-SHELL", "wget -qO- http://127.0.0.1:8080/health || exit 1"],
                   "interval": 5, "timeout": 2, "retries": 3}},
  {"name": "probe", "image": "busybox", "memory": 16, "stopTimeout": 2, "essential": false,
   "links": ["web"], "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}],
   "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do echo \"web says: \$(wget -qO- http://web:8080/version.txt)\"; sleep 1; done"],
   "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/cais-demo",
     "awslogs-stream-prefix": "demo", "awslogs-create-group": "true", "awslogs-region": "us-east-1"}}}
]}
TASKDEF
run aws --endpoint-url "$endpoint" ecs register-task-definition --cli-input-json "file://$work/taskdef.json" --query taskDefinition.taskDefinitionArn
task=$(aws --endpoint-url "$endpoint" ecs run-task --task-definition cais-demo-web --query 'tasks[0].taskArn' --output text)
printf '$ aws ecs run-task --task-definition cais-demo-web\n%s\n' "$task"
run aws --endpoint-url "$endpoint" ecs wait tasks-running --tasks "$task"
run aws --endpoint-url "$endpoint" ecs describe-tasks --tasks "$task" --query 'tasks[0].{lastStatus: lastStatus, health: healthStatus, containers: containers[].[name, lastStatus, healthStatus, networkBindings[0].hostPort]}'
sleep 3
run aws --endpoint-url "$endpoint" logs get-log-events --log-group-name /ecs/cais-demo --log-stream-name "demo/probe/${task##*/}" --limit 3 --query 'events[].message'
run aws --endpoint-url "$endpoint" ecs stop-task --task "$task" --reason "the demo is over" --query task.desiredStatus
run aws --endpoint-url "$endpoint" ecs wait tasks-stopped --tasks "$task"
run aws --endpoint-url "$endpoint" ecs describe-tasks --tasks "$task" --query 'tasks[0].{lastStatus: lastStatus, stopCode: stopCode, reason: stoppedReason}'
run aws --endpoint-url "$endpoint" ecr delete-repository --repository-name cais-demo/web --force --query repository.repositoryUri
printf '$ kill -TERM %s   # stop cais up\n' "$up_pid"
stop_up

run cais builder prune -f
run cais system monitor stop
run cais system forkserver stop

step "Done"
