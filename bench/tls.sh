#!/usr/bin/env bash
# TLS listener benchmark: nginx and meshd side by side, each terminating TLS with the same ECDSA
# P-256 certificate and answering a 4-byte body itself (nginx `return 200`, meshd `respond`), so
# the rows measure TLS and HTTP/1.1, not a proxy hop. Rows:
#   keep-alive:        wrk -c64 over 64 long-lived TLS connections;
#   new connection:    wrk -H "Connection: close": a handshake for every request. wrk keeps the
#                      session of its last connection and offers it again (OpenSSL's SSL_clear),
#                      so a server that supports resumption resumes (TLS 1.3 ticket, PSK + ECDHE);
# and for each, the server's CPU time per request (user + sys from /proc, which other processes
# on the machine do not change) beside req/s (which they do).
# Pinning as in bench/proxy.sh: the server under test alone on core 0 (one nginx worker,
# `meshd --workers 1`), wrk on core 1. Resumption is checked first with `openssl s_client`.
# On two cores wrk's own handshakes are the limit of the new-connection row (its core is 100 %
# busy against either server), so req/s there compares wrk with itself. The rows "at a CPU
# limit" give each server in turn the same CPU budget, LIMIT % of a core (a cgroup v1 cpu quota,
# as a Kubernetes CPU limit is), so the server is the limit and req/s is what that budget buys.
# They are skipped when /sys/fs/cgroup/cpu is not writable.
# Then INSTRUCTIONS=1 adds callgrind's user-space instructions per new-connection request
# (needs valgrind; slow). Run from the repository root:  bash bench/tls.sh
# Settings: DURATION (s, 10), CONNECTIONS (64), PROXY_CORE (0), LOAD_CORE (1), INSTRUCTIONS (0),
# LIMIT (40: per cent of a core for the rows at a CPU limit).
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
INSTRUCTIONS=${INSTRUCTIONS:-0}
LIMIT=${LIMIT:-40}
NGINX_PORT=${NGINX_PORT:-18941}
MESHD_PORT=${MESHD_PORT:-18942}

source "$(dirname "$0")/bench_setup.sh"
need openssl || { echo "openssl is required" >&2; exit 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=bench.meshwork.test" -addext "subjectAltName=DNS:bench.meshwork.test,IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  keepalive_requests 1000000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl reuseport;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    location / { default_type text/plain; return 200 "pong"; }
  }
}
CONF
cat > "$WORK/tls.mesh" <<MESH
gateway bench {
  listen "127.0.0.1:$MESHD_PORT" tls cert file("cert.pem") key file("key.pem")
  route ping { match * prefix "/" public respond 200 "pong" }
}
MESH

start_servers() {
  taskset -c "$PROXY_CORE" nginx -c "$WORK/nginx.conf" & NGINX_PID=$!; PIDS+=($NGINX_PID)
  taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/tls.mesh" --no-access-log --workers 1 \
    --admin 127.0.0.1:0 2>"$WORK/meshd.log" & MESHD_PID=$!; PIDS+=($MESHD_PID)
  for port in "$NGINX_PORT" "$MESHD_PORT"; do
    for _ in $(seq 1 200); do curl -sk -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.05; done
  done
}

# The pid doing the work: nginx's worker (the child of the master), or meshd itself.
worker_of() { pgrep -P "$1" nginx || echo "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy ticks of a core (user, nice, system, irq, softirq, steal): is wrk's core the limit?
core_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

resumes() { # port -> how many of 5 new connections resumed the session of a first one
  # Not `s_client -reconnect`: under TLS 1.3 the ticket comes after the handshake, and -reconnect
  # reconnects without reading it, so it never resumes, whatever the server. Instead: one request
  # whose answer is read (the ticket with it), the session saved, then offered five times.
  local request='GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'
  printf "$request" | timeout 10 openssl s_client -connect "127.0.0.1:$1" -tls1_3 -ign_eof \
    -sess_out "$WORK/session-$1.pem" >/dev/null 2>&1 || true
  for _ in 1 2 3 4 5; do
    printf "$request" | timeout 10 openssl s_client -connect "127.0.0.1:$1" -tls1_3 -ign_eof \
      -sess_in "$WORK/session-$1.pem" 2>/dev/null | grep '^Reused' || true
  done | grep -c '^Reused' || true
}

run_wrk() { # label port pid [wrk args]
  local label=$1 port=$2 pid=$3; shift 3
  taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d2s "$@" "https://127.0.0.1:$port/" >/dev/null 2>&1
  local before after out rps requests errors load_before load_after
  before=$(cpu_ticks "$pid")
  load_before=$(core_busy "$LOAD_CORE")
  out=$(taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" "https://127.0.0.1:$port/")
  load_after=$(core_busy "$LOAD_CORE")
  after=$(cpu_ticks "$pid")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%-30s %12s req/s  %8.1f µs CPU/request   wrk core %3.0f%% busy, %6.1f µs/request  %s\n' "$label" "$rps" \
    "$(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $requests" | bc -l)" \
    "$(echo "($load_after - $load_before) * 100 / $(getconf CLK_TCK) / $DURATION" | bc -l)" \
    "$(echo "($load_after - $load_before) * 1000000 / $(getconf CLK_TCK) / $requests" | bc -l)" "$errors"
  echo "$rps" > "$WORK/rps-${label// /_}"
}

start_servers
echo "session resumption (reused of 5 reconnections, TLS 1.3): nginx $(resumes "$NGINX_PORT"), meshd $(resumes "$MESHD_PORT")"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s; servers on core $PROXY_CORE, wrk on core $LOAD_CORE"
NGINX_WORKER=$(worker_of "$NGINX_PID")
run_wrk "nginx keep-alive" "$NGINX_PORT" "$NGINX_WORKER"
run_wrk "meshd keep-alive" "$MESHD_PORT" "$MESHD_PID"
run_wrk "nginx new connection" "$NGINX_PORT" "$NGINX_WORKER" -H "Connection: close"
run_wrk "meshd new connection" "$MESHD_PORT" "$MESHD_PID" -H "Connection: close"
awk -v nk="$(cat "$WORK/rps-nginx_keep-alive")" -v mk="$(cat "$WORK/rps-meshd_keep-alive")" \
  -v nn="$(cat "$WORK/rps-nginx_new_connection")" -v mn="$(cat "$WORK/rps-meshd_new_connection")" \
  'BEGIN { printf "meshd / nginx: keep-alive %.2fx, new connection %.2fx\n", mk / nk, mn / nn }'

# The same new-connection run with each server held to LIMIT % of a core. cgroup v1 moves every
# thread of a process written to cgroup.procs; the period is short (10 ms) so the budget is spread
# evenly rather than spent in bursts.
CGROUP=/sys/fs/cgroup/cpu/meshwork-bench-$$
limited_run() { # label port pid [wrk args]
  local label=$1 port=$2 pid=$3; shift 3
  echo "$pid" > "$CGROUP/cgroup.procs"
  run_wrk "$label" "$port" "$pid" "$@"
  echo "$pid" > /sys/fs/cgroup/cpu/cgroup.procs
}
if mkdir "$CGROUP" 2>/dev/null; then
  trap 'cleanup; rmdir "$CGROUP" 2>/dev/null || true' EXIT
  echo 10000 > "$CGROUP/cpu.cfs_period_us"
  echo $((LIMIT * 100)) > "$CGROUP/cpu.cfs_quota_us"
  echo "at a CPU limit of $LIMIT % of a core (cgroup cpu quota), one server at a time:"
  limited_run "nginx new connection, limit" "$NGINX_PORT" "$NGINX_WORKER" -H "Connection: close"
  limited_run "meshd new connection, limit" "$MESHD_PORT" "$MESHD_PID" -H "Connection: close"
  limited_run "nginx keep-alive, limit" "$NGINX_PORT" "$NGINX_WORKER"
  limited_run "meshd keep-alive, limit" "$MESHD_PORT" "$MESHD_PID"
  awk -v nk="$(cat "$WORK/rps-nginx_keep-alive,_limit")" -v mk="$(cat "$WORK/rps-meshd_keep-alive,_limit")" \
    -v nn="$(cat "$WORK/rps-nginx_new_connection,_limit")" -v mn="$(cat "$WORK/rps-meshd_new_connection,_limit")" \
    'BEGIN { printf "meshd / nginx at the same CPU limit: keep-alive %.2fx, new connection %.2fx\n", mk / nk, mn / nn }'
else
  echo "rows at a CPU limit skipped: cannot create a cgroup under /sys/fs/cgroup/cpu"
fi

if [ "$INSTRUCTIONS" = 1 ]; then
  need valgrind || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
  kill "$NGINX_PID" "$MESHD_PID"; wait "$NGINX_PID" "$MESHD_PID" 2>/dev/null || true
  # total_instructions NAME PORT SECONDS CMD... -> "requests instructions" (as bench/proxy_instructions.sh)
  total_instructions() {
    local name=$1 port=$2 secs=$3; shift 3
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.cg" "$@" >/dev/null 2>"$WORK/$name.err" &
    local pid=$!
    for _ in $(seq 1 300); do curl -sk -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.2; done
    local requests=0
    if [ "$secs" != 0 ]; then
      requests=$(wrk -t1 -c8 -d"${secs}s" -H "Connection: close" "https://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
    fi
    kill -INT "$pid"; sleep 0.5; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    echo "$requests $(cat "$WORK/$name.cg"* | awk '/^summary:/ {s+=$2} /^totals:/ {t+=$2} END {print (s>0?s:t)}')"
  }
  per_handshake() { # label name port cmd...
    local label=$1 name=$2 port=$3; shift 3
    read -r _ idle < <(total_instructions "$name-idle" "$port" 0 "$@")
    read -r requests busy < <(total_instructions "$name-busy" "$port" 8 "$@")
    awk -v l="$label" -v r="$requests" -v b="$busy" -v i="$idle" \
      'BEGIN { printf "%-24s %9.0f instructions per new-connection request (%d requests)\n", l, (b - i) / r, r }'
  }
  sed -i 's/^worker_processes 1;/worker_processes 1;\nmaster_process off;/' "$WORK/nginx.conf"
  per_handshake "nginx" nginx "$NGINX_PORT" nginx -c "$WORK/nginx.conf"
  per_handshake "meshd" meshd "$MESHD_PORT" "$MESHD" run "$WORK/tls.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0
fi
