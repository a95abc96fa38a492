#!/usr/bin/env bash
# Scale benchmark: the generated program (compiler/benches/support/generated_program.rs: key
# auth, group allow, rate limit, a CEL condition on every tenth route, 100 services) at 1k, 10k
# and 100k routes, end to end:
#   1. `meshc build` of the compressed bundle: CPU (user + sys), peak RSS, sizes of the source,
#      the compressed bundle and the pretty JSON;
#   2. `meshd run` on the bundle and on the sources: CPU until the listener answers, peak RSS
#      (VmHWM) and steady RSS (VmRSS a second later), and the ratio peak / steady;
#   3. reloads of the largest bundle under load: wrk through a route while the bundle file is
#      swapped between two versions RELOADS times (POST /reload after each), then wrk's count
#      of non-2xx answers and socket errors (must be 0) and meshd's RSS, read as wrk ends and
#      again SETTLE seconds later (a replaced state is freed once its last request ends);
#   4. memory across reloads (issue 11 item 6): a MEMORY_ROUTES-route bundle swapped between two
#      versions MEMORY_RELOADS times (POST /reload each), RSS SETTLE seconds after the last
#      replaced state was freed (meshd_replaced_states 0) over RSS after the first load
#      (target < 1.5).
# CPU time and RSS do not depend on what else runs on the machine; elapsed times do, so they
# are printed only for reference. Run from the repository root:  bash bench/scale.sh
# Settings: ROUTES_LIST ("1000 10000 100000"), RELOADS (6), DURATION of the reload run (30 s),
# SETTLE (3 s), MEMORY_ROUTES (10000), MEMORY_RELOADS (100), PROXY_CORE (0), LOAD_CORE (1).
set -euo pipefail

ROUTES_LIST=${ROUTES_LIST:-"1000 10000 100000"}
RELOADS=${RELOADS:-6}
DURATION=${DURATION:-30}
SETTLE=${SETTLE:-3}
MEMORY_ROUTES=${MEMORY_ROUTES:-10000}
MEMORY_RELOADS=${MEMORY_RELOADS:-100}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
LISTEN_PORT=${LISTEN_PORT:-18950}
UPSTREAM_PORT=${UPSTREAM_PORT:-18951}
ADMIN_PORT=${ADMIN_PORT:-18952}

source "$(dirname "$0")/bench_setup.sh"
cargo build --release -q -p meshc --bin meshc --example generate_program
MESHC="$(pwd)/target/release/meshc"
GENERATE="$(pwd)/target/release/examples/generate_program"
export PICARD_KEY=bench-key

cpu_ms() { # pid: user + sys CPU time so far, in ms
  awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"
}
status_kib() { # pid field
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

# Starts meshd on $1 (more args follow), waits until the listener answers; writes its pid to
# $WORK/meshd.pid (callers read the output through a pipe, a subshell: see meshd_pid) and prints
# "cpu_ms peak_kib steady_kib elapsed_s".
serve_and_measure() {
  local start end
  start=$(date +%s.%N)
  taskset -c "$PROXY_CORE" "$MESHD" run "$@" --no-access-log --workers 1 \
    --admin "127.0.0.1:$ADMIN_PORT" >>"$WORK/meshd.log" 2>&1 &
  MESHD_PID=$!
  echo "$MESHD_PID" > "$WORK/meshd.pid"
  until curl -s -o /dev/null "http://127.0.0.1:$LISTEN_PORT/"; do
    kill -0 "$MESHD_PID" 2>/dev/null || { tail -5 "$WORK/meshd.log" >&2; exit 1; }
    sleep 0.01
  done
  end=$(date +%s.%N)
  local cpu peak
  cpu=$(cpu_ms "$MESHD_PID")
  sleep 1
  peak=$(status_kib "$MESHD_PID" VmHWM)
  echo "$cpu $peak $(status_kib "$MESHD_PID" VmRSS) $(echo "$end - $start" | bc)"
}

# The pid serve_and_measure started, in this shell (and in the cleanup list).
meshd_pid() {
  MESHD_PID=$(cat "$WORK/meshd.pid")
  PIDS+=("$MESHD_PID")
}

# Stops meshd and waits until it is gone (it is not this shell's child, so `wait` cannot), so
# the next one can bind the same ports.
stop_meshd() {
  kill -9 "$MESHD_PID" 2>/dev/null || true
  while kill -0 "$MESHD_PID" 2>/dev/null; do sleep 0.02; done
}

# Writes $WORK/NAME-2s.json.zst and $WORK/NAME-3s.json.zst: the ROUTES-route program with two
# service timeouts, so two bundles of the same routes (more generator arguments follow).
two_versions() { # name routes [generator args…]
  local name=$1 routes=$2 timeout; shift 2
  for timeout in 2s 3s; do
    "$GENERATE" "$routes" --listen "127.0.0.1:$LISTEN_PORT" --upstream "127.0.0.1:$UPSTREAM_PORT" \
      --timeout "$timeout" "$@" > "$WORK/$name-$timeout.mesh"
    "$MESHC" build "$WORK/$name-$timeout.mesh" -o "$WORK/$name-$timeout.json.zst" 2>/dev/null
  done
}

# Reload I: puts NAME's 3s version (odd I) or 2s version (even I) in place of the served bundle in
# one rename, POSTs /reload, and sets VERSION and CODE (the answer's status).
reload_version() { # name i
  VERSION=$([ $(($2 % 2)) = 1 ] && echo 3s || echo 2s)
  cp "$WORK/$1-$VERSION.json.zst" "$WORK/serving.json.zst.new"
  mv "$WORK/serving.json.zst.new" "$WORK/serving.json.zst"
  CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$ADMIN_PORT/reload")
}

printf '%-8s %-34s %10s %10s %10s %10s %8s\n' routes step "cpu ms" "peak KiB" "steady KiB" "size KiB" "elapsed"
for routes in $ROUTES_LIST; do
  "$GENERATE" "$routes" --listen "127.0.0.1:$LISTEN_PORT" --upstream "127.0.0.1:$UPSTREAM_PORT" \
    > "$WORK/routes$routes.mesh"
  /usr/bin/time -o "$WORK/time.txt" -f "%e %U %S %M" "$MESHC" build "$WORK/routes$routes.mesh" \
    -o "$WORK/routes$routes.json.zst" 2>/dev/null
  read -r elapsed user sys maxrss < "$WORK/time.txt"
  cpu=$(echo "($user + $sys) * 1000 / 1" | bc)
  printf '%-8s %-34s %10s %10s %10s %10s %8s\n' "$routes" "source (.mesh)" - - - \
    $(( $(stat -c %s "$WORK/routes$routes.mesh") / 1024 )) -
  printf '%-8s %-34s %10s %10s %10s %10s %8s\n' "$routes" "meshc build -o x.json.zst" "$cpu" "$maxrss" - \
    $(( $(stat -c %s "$WORK/routes$routes.json.zst") / 1024 )) "$elapsed"
  "$MESHC" build "$WORK/routes$routes.mesh" -o "$WORK/routes$routes.json" 2>/dev/null
  printf '%-8s %-34s %10s %10s %10s %10s %8s\n' "$routes" "(pretty JSON, for comparison)" - - - \
    $(( $(stat -c %s "$WORK/routes$routes.json") / 1024 )) -
  rm -f "$WORK/routes$routes.json"
  for input in "routes$routes.json.zst" "routes$routes.mesh"; do
    read -r cpu peak steady elapsed < <(serve_and_measure "$WORK/$input")
    meshd_pid
    stop_meshd
    printf '%-8s %-34s %10s %10s %10s %10s %8s   peak/steady %s\n' "$routes" "meshd ready on $input" \
      "$cpu" "$peak" "$steady" - "$elapsed" "$(echo "scale=2; $peak / $steady" | bc)"
  done
done

# Reloads of the largest bundle under load: two versions of the same routes (service timeout
# 2s or 3s), swapped RELOADS times while wrk sends a request through one route without pause.
routes=${ROUTES_LIST##* }
cat > "$WORK/upstream.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/upstream.pid;
error_log $WORK/upstream-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:$UPSTREAM_PORT; location / { return 200 "ok"; } }
}
CONF
taskset -c "$LOAD_CORE" nginx -c "$WORK/upstream.conf" & PIDS+=($!)
wait_for "http://127.0.0.1:$UPSTREAM_PORT/"
# The load run needs more than 100 requests a minute per consumer: the limit is raised in this
# program only (every request still pays for the limit's bookkeeping).
two_versions reload "$routes" --rate 1000000/s
cp "$WORK/reload-2s.json.zst" "$WORK/serving.json.zst"
read -r cpu peak steady elapsed < <(serve_and_measure "$WORK/serving.json.zst")
meshd_pid
first_rss=$steady
url="http://127.0.0.1:$LISTEN_PORT/s1/items1/7"
taskset -c "$LOAD_CORE" wrk -t1 -c16 -d"${DURATION}s" -H "x-api-key: $PICARD_KEY" "$url" > "$WORK/wrk.txt" &
WRK_PID=$!
for i in $(seq 1 "$RELOADS"); do
  reload_version reload "$i"
  echo "reload $i ($VERSION): HTTP $CODE, meshd RSS $(status_kib "$MESHD_PID" VmRSS) KiB, peak $(status_kib "$MESHD_PID" VmHWM) KiB"
done
wait "$WRK_PID"
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
failures=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$WORK/wrk.txt")
ended_rss=$(status_kib "$MESHD_PID" VmRSS)
sleep "$SETTLE"
echo "reloads of $routes routes under load: $requests requests, $failures non-2xx or socket errors;" \
  "RSS first $first_rss KiB, after $RELOADS reloads $ended_rss KiB as wrk ended," \
  "$(status_kib "$MESHD_PID" VmRSS) KiB ${SETTLE}s later, peak $(status_kib "$MESHD_PID" VmHWM) KiB"
stop_meshd

# Memory across reloads: two versions of the MEMORY_ROUTES program swapped MEMORY_RELOADS times.
two_versions memory "$MEMORY_ROUTES"
cp "$WORK/memory-2s.json.zst" "$WORK/serving.json.zst"
read -r cpu peak steady elapsed < <(serve_and_measure "$WORK/serving.json.zst")
meshd_pid
first_rss=$steady
for i in $(seq 1 "$MEMORY_RELOADS"); do
  reload_version memory "$i"
  [ "$CODE" = 200 ] || { echo "reload $i answered HTTP $CODE" >&2; exit 1; }
  if [ $((i % 20)) = 0 ]; then
    echo "memory: after $i reloads of $MEMORY_ROUTES routes, RSS $(status_kib "$MESHD_PID" VmRSS) KiB"
  fi
done
# Until every replaced state is freed (meshd_replaced_states back to 0), then SETTLE more seconds.
until curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -qx 'meshd_replaced_states 0'; do sleep 0.05; done
sleep "$SETTLE"
last_rss=$(status_kib "$MESHD_PID" VmRSS)
echo "memory across reloads of $MEMORY_ROUTES routes: RSS first $first_rss KiB, after $MEMORY_RELOADS" \
  "reloads $last_rss KiB (${SETTLE}s after the last was freed): $(echo "scale=2; $last_rss / $first_rss" | bc)×"
stop_meshd
