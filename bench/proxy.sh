#!/usr/bin/env bash
# Reverse-proxy benchmark: one upstream, nginx as the reference proxy, meshd. Prints req/s and p99
# for: the upstream direct, nginx, haproxy as a second HTTP proxy, haproxy forwarding TCP bytes
# without reading HTTP (the floor: what a proxy that did no HTTP work at all would cost), meshd
# plain forward, meshd with admission (runtime/benches/admission_proxy.mesh),
# the same admission with tracing on (100 % sampled, every span exported over OTLP/HTTP to a local
# sink) beside it with tracing off, and meshd's RSS with 10 000 routes loaded.
#
# Fairness on a 2-core machine: the proxy under test (nginx with one worker, or meshd with one
# worker) is pinned alone on core 0; wrk and the upstream share core 1. Both proxies get the same
# upstream, the same wrk settings, access logs off, upstream keep-alive, and the same
# X-Forwarded-* headers. "upstream direct" runs wrk against the upstream on core 1 alone: the
# ceiling of the load side. Run from the repository root:  bash bench/proxy.sh
# Settings: DURATION (s, default 10), CONNECTIONS (default 64), PROXY_CORE (0), LOAD_CORE (1),
# ROUNDS (3: every row once per round; ratios are taken within a round and reported as the median).
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
UPSTREAM_PORT=${UPSTREAM_PORT:-18901}
NGINX_PORT=${NGINX_PORT:-18902}
MESHD_PORT=${MESHD_PORT:-18903}
MESHD_AUTH_PORT=${MESHD_AUTH_PORT:-18904}
ROUTES_PORT=${ROUTES_PORT:-18905}
MESHD_TRACE_PORT=${MESHD_TRACE_PORT:-18906}
HAPROXY_HTTP_PORT=${HAPROXY_HTTP_PORT:-18909}
HAPROXY_TCP_PORT=${HAPROXY_TCP_PORT:-18910}
OTLP_SINK_PORT=${OTLP_SINK_PORT:-18907}
TRACE_ADMIN_PORT=${TRACE_ADMIN_PORT:-18908}

source "$(dirname "$0")/bench_setup.sh"
need haproxy || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }
source "$(dirname "$0")/reference_nginx.sh"
start_upstream "$LOAD_CORE" "$UPSTREAM_PORT"
start_nginx_proxy "$PROXY_CORE" "$NGINX_PORT" "$UPSTREAM_PORT"

# haproxy, one thread on the proxy core: as an HTTP proxy configured like nginx (upstream
# keep-alive, the same X-Forwarded-* headers), and in TCP mode, where it copies bytes between each
# client connection and an upstream connection of its own without parsing HTTP. The TCP row is
# not a fair HTTP proxy (it cannot route, admit or add headers); it measures the kernel's share,
# the part of a request no user-space work can remove.
haproxy_conf() { # name mode port extra-frontend extra-defaults
  cat > "$WORK/haproxy-$1.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode $2
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  $5
frontend in
  bind 127.0.0.1:$3
  $4
  default_backend upstream
backend upstream
  server upstream 127.0.0.1:$UPSTREAM_PORT
CONF
  taskset -c "$PROXY_CORE" haproxy -f "$WORK/haproxy-$1.cfg" 2>>"$WORK/haproxy.log" & PIDS+=($!)
}
haproxy_conf http http "$HAPROXY_HTTP_PORT" 'http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]' 'option http-keep-alive
  option forwardfor
  http-reuse always'
haproxy_conf tcp tcp "$HAPROXY_TCP_PORT" '' ''

sed "s/@PORT@/$MESHD_PORT/; s/@UPSTREAM@/$UPSTREAM_PORT/" runtime/benches/plain_proxy.mesh > "$WORK/plain.mesh"
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/plain.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/meshd.log" & PIDS+=($!)

wait_for "http://127.0.0.1:$UPSTREAM_PORT/"
wait_for "http://127.0.0.1:$NGINX_PORT/"
wait_for "http://127.0.0.1:$MESHD_PORT/"
wait_for "http://127.0.0.1:$HAPROXY_HTTP_PORT/"
wait_for "http://127.0.0.1:$HAPROXY_TCP_PORT/"

# Busy ticks of the proxy's core (user, nice, system, irq, softirq, steal from /proc/stat): the
# proxy runs alone there, so this is its CPU including the kernel's work for its sockets.
core_busy() { awk -v c="cpu$PROXY_CORE" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)

run_wrk() { # label url [extra wrk args]
  local label=$1 url=$2; shift 2
  taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null 2>&1 # warm-up
  local out before after
  before=$(core_busy)
  out=$(taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
  after=$(core_busy)
  local rps p99 errors requests us busy
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  us=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
  busy=$(awk -v t=$((after - before)) -v hz="$HZ" -v d="$DURATION" 'BEGIN { printf "%.0f", t / hz / d * 100 }')
  printf '%-34s %12s req/s   p99 %8s   core %s: %5s µs/request, %3s%% busy   %s\n' \
    "$label" "$rps" "$p99" "$PROXY_CORE" "$us" "$busy" "$errors"
  echo "$rps" > "$WORK/rps-${label// /_}"
  echo "$us" > "$WORK/us-${label// /_}"
}

# Key auth + rate limit + one CEL condition (runtime/benches/admission_proxy.mesh), same upstream.
sed "s/@PORT@/$MESHD_AUTH_PORT/; s/@UPSTREAM@/$UPSTREAM_PORT/" runtime/benches/admission_proxy.mesh > "$WORK/admission.mesh"
BENCH_KEY=bench-key taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/admission.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>>"$WORK/meshd.log" & PIDS+=($!)
# The same admission with `tracing { sample 100% }`: every request gets a traceparent, three spans
# (route, admission, forward) and is exported in batches to an OTLP sink (nginx answering 200 to
# POST /v1/traces, on the load core). The counters after the runs show the spans were exported,
# not dropped.
nginx_conf otlp "$OTLP_SINK_PORT" 'location /v1/traces { client_body_buffer_size 4m; return 200; }' ''
taskset -c "$LOAD_CORE" nginx -c "$WORK/otlp/nginx.conf" & PIDS+=($!)
sed "s/@PORT@/$MESHD_TRACE_PORT/; s/@UPSTREAM@/$UPSTREAM_PORT/; s/^gateway bench {/gateway bench {\n  tracing { sample 100% }/" \
  runtime/benches/admission_proxy.mesh > "$WORK/admission_traced.mesh"
BENCH_KEY=bench-key taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/admission_traced.mesh" --no-access-log --workers 1 \
  --admin "127.0.0.1:$TRACE_ADMIN_PORT" --otlp-endpoint "http://127.0.0.1:$OTLP_SINK_PORT" 2>>"$WORK/meshd.log" & PIDS+=($!)
for port in "$MESHD_AUTH_PORT" "$MESHD_TRACE_PORT"; do
  for _ in $(seq 1 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'x-api-key: bench-key' -H 'x-stardate: 1' "http://127.0.0.1:$port/")" = 200 ] && break
    sleep 0.05
  done
done

# Every row runs once per round, the rounds one after another: this machine's speed drifts by up
# to 20 % over a minute (the same binary measured 12.5 and 14.3 µs per request a minute apart),
# so each ratio is taken within a round, between neighbours in time, and the median of the rounds
# is reported. The admission rows carry a key and a stardate; "plain, the same 2 headers" forwards
# the same requests without admission, separating what admission costs from what two more
# headers cost any proxy.
ADMISSION_HEADERS=(-H "x-api-key: bench-key" -H "x-stardate: 41153.7")
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s; proxies on core $PROXY_CORE, wrk + upstream on core $LOAD_CORE; $ROUNDS rounds"
run_wrk "upstream direct" "http://127.0.0.1:$UPSTREAM_PORT/"
: > "$WORK/ratios"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  run_wrk "nginx proxy" "http://127.0.0.1:$NGINX_PORT/"
  run_wrk "haproxy http proxy" "http://127.0.0.1:$HAPROXY_HTTP_PORT/"
  run_wrk "haproxy tcp, bytes only (floor)" "http://127.0.0.1:$HAPROXY_TCP_PORT/"
  run_wrk "meshd plain forward" "http://127.0.0.1:$MESHD_PORT/"
  run_wrk "meshd plain, the same 2 headers" "http://127.0.0.1:$MESHD_PORT/" "${ADMISSION_HEADERS[@]}"
  run_wrk "meshd key auth + limit + CEL" "http://127.0.0.1:$MESHD_AUTH_PORT/" "${ADMISSION_HEADERS[@]}"
  run_wrk "meshd admission, tracing 100%" "http://127.0.0.1:$MESHD_TRACE_PORT/" "${ADMISSION_HEADERS[@]}"
  # Ratios of the round: req/s, and core time per request (capacity: when the load core, wrk and
  # the upstream, saturates first, req/s understates the faster proxy; this does not).
  awk -v n="$(cat "$WORK/rps-nginx_proxy")" -v m="$(cat "$WORK/rps-meshd_plain_forward")" \
    -v h="$(cat "$WORK/rps-meshd_plain,_the_same_2_headers")" -v a="$(cat "$WORK/rps-meshd_key_auth_+_limit_+_CEL")" \
    -v t="$(cat "$WORK/rps-meshd_admission,_tracing_100%")" \
    -v nu="$(cat "$WORK/us-nginx_proxy")" -v mu="$(cat "$WORK/us-meshd_plain_forward")" \
    -v hu="$(cat "$WORK/us-meshd_plain,_the_same_2_headers")" -v au="$(cat "$WORK/us-meshd_key_auth_+_limit_+_CEL")" \
    -v pu="$(cat "$WORK/us-haproxy_http_proxy")" -v fu="$(cat "$WORK/us-haproxy_tcp,_bytes_only_(floor)")" \
    'BEGIN { printf "%.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", m / n, nu / mu, a / m, a / h, hu / au, t / a, pu / mu, nu / fu }' >> "$WORK/ratios"
done
sleep 1 # the last batch of spans leaves within 200 ms
curl -s "http://127.0.0.1:$TRACE_ADMIN_PORT/metrics" | awk '/^meshd_trace_spans_(exported|dropped|failed)_total/ {printf "  %s %s\n", $1, $2}'
COLUMNS_=("meshd plain / nginx, req/s" "meshd plain / nginx, core time per request (capacity)" \
  "meshd admission / meshd plain, req/s" "meshd admission / plain with the same headers, req/s" \
  "meshd admission / plain with the same headers, core time" "tracing 100% / off, req/s" \
  "meshd plain / haproxy http, capacity (core time)" "haproxy tcp, no HTTP / nginx, capacity (core time)")
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for i in "${!COLUMNS_[@]}"; do
  column=$((i + 1))
  printf '%-58s median %.2fx   (rounds: %s)\n' "${COLUMNS_[$i]}" \
    "$(cut -d' ' -f"$column" "$WORK/ratios" | median)" "$(cut -d' ' -f"$column" "$WORK/ratios" | tr '\n' ' ')"
done

# RSS with 10 000 routes loaded (compiled in-process from generated sources).
{
  echo "gateway routes {"
  echo "  listen \"127.0.0.1:$ROUTES_PORT\""
  for i in $(seq 0 9999); do
    echo "  route r$i { match GET \"/svc$((i % 100))/items$i/{id}\" public forward upstream }"
  done
  echo "}"
  echo "service upstream { endpoints [\"127.0.0.1:$UPSTREAM_PORT\"] }"
} > "$WORK/routes.mesh"
"$MESHD" run "$WORK/routes.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>>"$WORK/meshd.log" & ROUTES_PID=$!; PIDS+=($ROUTES_PID)
wait_for "http://127.0.0.1:$ROUTES_PORT/svc7/items9907/1"
taskset -c "$LOAD_CORE" wrk -t1 -c16 -d2s "http://127.0.0.1:$ROUTES_PORT/svc7/items9907/1" >/dev/null
printf 'meshd RSS with 10000 routes:        %s KiB\n' "$(awk '/VmRSS/ {print $2}' "/proc/$ROUTES_PID/status")"
