#!/usr/bin/env bash
# System calls per proxied request, nginx vs meshd plain forward, counted with perf's syscall
# tracepoints on the proxy's process while wrk runs (the same setup as bench/proxy.sh: one worker
# pinned to core 0, wrk and the upstream on core 1, upstream keep-alive, the same forwarded
# headers). A read/write proxy needs at least four per request (read the request, write it on,
# read the answer, write it back); what is over that, and what the kernel's TCP work costs besides,
# is what an io_uring or splice design could save. Run from the repository root:
#   bash bench/proxy_syscalls.sh        (DURATION s per run, default 8; ROUNDS, default 2)
set -euo pipefail

DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-2}
UPSTREAM_PORT=${UPSTREAM_PORT:-18921}
NGINX_PORT=${NGINX_PORT:-18922}
MESHD_PORT=${MESHD_PORT:-18923}

source "$(dirname "$0")/bench_setup.sh"
need perf || { echo "perf (linux-perf) is required" >&2; exit 1; }

source "$(dirname "$0")/reference_nginx.sh"
start_upstream 1 "$UPSTREAM_PORT"
start_nginx_proxy 0 "$NGINX_PORT" "$UPSTREAM_PORT"
sed "s/@PORT@/$MESHD_PORT/; s/@UPSTREAM@/$UPSTREAM_PORT/" runtime/benches/plain_proxy.mesh > "$WORK/plain.mesh"
taskset -c 0 "$MESHD" run "$WORK/plain.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/meshd.log" & MESHD_PID=$!
PIDS+=("$MESHD_PID")
for port in "$UPSTREAM_PORT" "$NGINX_PORT" "$MESHD_PORT"; do wait_for "http://127.0.0.1:$port/"; done
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/proxy/nginx.pid")" | head -1)

count() { # label pid port
  taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$3/" >/dev/null # warm-up
  perf stat -x, -e 'syscalls:sys_enter_*' -p "$2" -o "$WORK/perf-$1.txt" & local perf_pid=$!
  sleep 0.5 # perf attached
  local out requests
  out=$(taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" "http://127.0.0.1:$3/")
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-6s %8s req/s under perf; system calls per request:' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  awk -F, -v n="$requests" '$1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3); t += $1; c[$3] = $1 / n }
    END { printf " total %.2f;", t / n; for (k in c) if (c[k] >= 0.01) printf " %s %.2f", k, c[k]; print "" }' "$WORK/perf-$1.txt"
}
echo "wrk -t1 -c64 -d${DURATION}s; proxies on core 0, wrk + upstream on core 1; $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
  count nginx "$NGINX_WORKER" "$NGINX_PORT"
  count meshd "$MESHD_PID" "$MESHD_PORT"
done
