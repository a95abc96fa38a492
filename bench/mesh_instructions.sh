#!/usr/bin/env bash
# User-space instructions per request through a mesh pair, counted by valgrind's callgrind:
# wrk → client sidecar → mutual TLS → server sidecar → upstream (nginx), for a meshd sidecar pair
# and for an envoy pair with the same certificates (as bench/mesh.sh sets them up). Unlike req/s,
# this count does not move when other processes share the machine. Each pair runs under callgrind
# twice, idle (start-up) and under wrk for SECONDS_UNDER_LOAD; the difference over the requests
# served is the cost of one request in both proxies together (the TLS session between them is set
# up once per pooled connection, so this is the steady-state cost).
# Run from the repository root:  bash bench/mesh_instructions.sh
# MESHD_BIN=path/to/meshd measures that binary; ENVOY=path/to/envoy; SKIP_ENVOY=1 skips envoy.
set -euo pipefail

SECONDS_UNDER_LOAD=${SECONDS_UNDER_LOAD:-8}
UPSTREAM_PORT=${UPSTREAM_PORT:-18961}
SERVER_IN=${SERVER_IN:-18962}
CLIENT_IN=${CLIENT_IN:-18963}
CLIENT_OUT=${CLIENT_OUT:-18964}
ENVOY_SERVER_IN=${ENVOY_SERVER_IN:-18965}
ENVOY_CLIENT_OUT=${ENVOY_CLIENT_OUT:-18966}

for tool in nginx wrk valgrind; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk valgrind >/dev/null; break; }
done
[ -n "${MESHD_BIN:-}" ] || cargo build --release -q -p meshd
MESHD="${MESHD_BIN:-$(pwd)/target/release/meshd}"
ENVOY=${ENVOY:-$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))' 2>/dev/null || true)}
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$MESHD" ca init --trust-domain bench "$WORK/ca" >/dev/null
"$MESHD" ca issue "$WORK/ca" --service client --out "$WORK/client" >/dev/null
"$MESHD" ca issue "$WORK/ca" --service server --out "$WORK/server" >/dev/null
cat > "$WORK/upstream.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/upstream.pid;
error_log $WORK/upstream.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:$UPSTREAM_PORT; location / { default_type application/json; return 200 "{\"ok\":true}"; } }
}
CONF
nginx -c "$WORK/upstream.conf" & PIDS+=($!)
mkdir -p "$WORK/program"
cat > "$WORK/program/mesh.mesh" <<MESH
service server { endpoints ["127.0.0.1:$SERVER_IN"] timeout 30s }
service client { endpoints ["127.0.0.1:$CLIENT_IN"] timeout 30s }
mesh {
  default deny
  trust_domain "bench"
  mtls strict
  allow client -> [server]
}
MESH

# The envoy configurations are bench/mesh.sh's, taken from it (its two heredocs) so that both
# scripts measure the same envoy setup.
envoy_configs() {
  sed -n '/^cat > "\$WORK\/envoy-server.yaml"/,/^YAML$/p; /^cat > "\$WORK\/envoy-client.yaml"/,/^YAML$/p' \
    "$(dirname "$0")/mesh.sh" > "$WORK/envoy-configs.sh"
  # shellcheck disable=SC1091
  source "$WORK/envoy-configs.sh"
}

callgrind() { # name cmd...: starts cmd under callgrind, returns its pid in CG_PID
  local name=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.cg" "$@" >/dev/null 2>"$WORK/$name.err" &
  CG_PID=$!
}

instructions_of() { # name: the total of a finished callgrind run
  cat "$WORK/$1.cg"* | awk '/^summary:/ {s+=$2} /^totals:/ {t+=$2} END {print (s>0?s:t)}'
}

run_pair() { # kind tag seconds -> "requests instructions"
  local kind=$1 tag=$2 secs=$3 port a b
  if [ "$kind" = meshd ]; then
    port=$CLIENT_OUT
    callgrind "$tag-server" "$MESHD" sidecar "$WORK/program" --service server --app "127.0.0.1:$UPSTREAM_PORT" \
      --certs "$WORK/server" --inbound "127.0.0.1:$SERVER_IN" --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
      --workers 1 --no-access-log --drain-delay 0s --drain-timeout 5s
    a=$CG_PID
    callgrind "$tag-client" "$MESHD" sidecar "$WORK/program" --service client --app 127.0.0.1:9 \
      --certs "$WORK/client" --inbound "127.0.0.1:$CLIENT_IN" --outbound "127.0.0.1:$CLIENT_OUT" \
      --admin 127.0.0.1:0 --workers 1 --no-access-log --drain-delay 0s --drain-timeout 5s
    b=$CG_PID
  else
    port=$ENVOY_CLIENT_OUT
    callgrind "$tag-server" "$ENVOY" -c "$WORK/envoy-server.yaml" --concurrency 1 --log-level error --base-id "$RANDOM"
    a=$CG_PID
    callgrind "$tag-client" "$ENVOY" -c "$WORK/envoy-client.yaml" --concurrency 1 --log-level error --base-id "$RANDOM"
    b=$CG_PID
  fi
  local ready=""
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: server' "http://127.0.0.1:$port/")" = 200 ]; then ready=1; break; fi
    sleep 0.2
  done
  [ -n "$ready" ] || { echo "$kind pair not ready under valgrind" >&2; cat "$WORK/$tag"-*.err >&2; exit 1; }
  local requests=1
  if [ "$secs" != 0 ]; then
    requests=$(wrk -t1 -c8 -d"${secs}s" -H 'Host: server' "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
    requests=$((requests + 1))
  fi
  kill -INT "$b" "$a" 2>/dev/null || true
  wait "$b" "$a" 2>/dev/null || true
  echo "$requests $(( $(instructions_of "$tag-server") + $(instructions_of "$tag-client") ))"
}

per_request() { # kind label
  local idle busy requests
  read -r _ idle < <(run_pair "$1" "$1-idle" 0)
  read -r requests busy < <(run_pair "$1" "$1-busy" "$SECONDS_UNDER_LOAD")
  awk -v l="$2" -v b="$busy" -v i="$idle" -v n="$requests" \
    'BEGIN { printf "%-22s %10d requests   %8.0f instructions per request (both proxies)\n", l, n, (b - i) / n }'
}

echo "callgrind, wrk -t1 -c8 -d${SECONDS_UNDER_LOAD}s through each pair"
per_request meshd "meshd sidecar pair"
if [ -z "${SKIP_ENVOY:-}" ] && [ -x "$ENVOY" ]; then
  envoy_configs
  per_request envoy "envoy pair"
fi
