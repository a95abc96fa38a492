#!/usr/bin/env bash
# Restarts without a dropped request (issue 19), measured as an operator would see them: wrk with
# keep-alive connections on a route meshd answers itself, plus requests to an upstream that
# answers after SLOW_DELAY seconds, while meshd is stopped or replaced. For each scenario: what
# wrk saw (requests, non-2xx, socket errors), what became of the slow requests, meshd's exit
# status and how long it took to exit. nginx, stopped gracefully (SIGQUIT) in the same layout,
# is the reference.
#
#   sigterm     one meshd, SIGTERM while 20 slow requests are in flight (there is no other
#               server, so wrk's connect errors after the listeners close are expected);
#   reuseport   a second meshd on the same port (SO_REUSEPORT), then SIGTERM to the first;
#   handover    a second meshd with the same --handover-socket (it takes the sockets; the first
#               drains on its own);
#   upgrade     the same with another binary file (a new release);
#   nginx       a second nginx on the same port (reuseport), then SIGQUIT to the first;
#   churn       reuseport and handover restarts, ROUNDS each, with every wrk request on a new
#               connection (Connection: close): the most exposed case for Linux's reset of the
#               connections queued on a closing SO_REUSEPORT socket.
#
# Run from the repository root:  bash bench/drain.sh [scenario…]   (default: all)
# Settings: DURATION (s of wrk per scenario, default 6), CONNECTIONS (32), SLOW_DELAY (1),
# DRAIN_DELAY (meshd --drain-delay, 2s), ROUNDS (churn rounds, 10).
set -euo pipefail

DURATION=${DURATION:-6}
CONNECTIONS=${CONNECTIONS:-32}
SLOW_DELAY=${SLOW_DELAY:-1}
DRAIN_DELAY=${DRAIN_DELAY:-2s}
ROUNDS=${ROUNDS:-10}
UPSTREAM_PORT=${UPSTREAM_PORT:-18941}
EDGE_PORT=${EDGE_PORT:-18942}
ADMIN_PORT=${ADMIN_PORT:-18943}
ADMIN2_PORT=${ADMIN2_PORT:-18944}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(sigterm reuseport handover upgrade nginx churn)

source "$(dirname "$0")/bench_setup.sh"

python3 "$(dirname "$0")/slow_upstream.py" "$UPSTREAM_PORT" "$SLOW_DELAY" 2>/dev/null & PIDS+=($!)
cat > "$WORK/edge.mesh" <<MESH
gateway edge {
  listen "127.0.0.1:$EDGE_PORT"
  route ping { match GET "/ping" public respond 200 "pong" }
  route slow { match GET "/slow" public forward slow }
}
service slow { endpoints ["127.0.0.1:$UPSTREAM_PORT"] timeout 30s }
MESH
wait_for "http://127.0.0.1:$UPSTREAM_PORT/"

EDGE="http://127.0.0.1:$EDGE_PORT"
DRAIN_FLAGS=(--drain-delay "$DRAIN_DELAY" --drain-timeout 20s --no-access-log --workers 2)

start_meshd() { # name admin-port [extra flags…]: sets MESHD_PID
  local name=$1 admin=$2; shift 2
  "${BINARY:-$MESHD}" run "$WORK/edge.mesh" --admin "127.0.0.1:$admin" "${DRAIN_FLAGS[@]}" "$@" \
    2>"$WORK/$name.log" & MESHD_PID=$!; PIDS+=($MESHD_PID)
}
ready() { # admin-port
  for _ in $(seq 1 400); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ] && return 0
    sleep 0.025
  done
  echo "not ready on $1" >&2; exit 1
}
SLOW_PIDS=()
slow_requests() { # count file: each writes "exit-status http-code"
  for _ in $(seq "$1"); do
    ( code=$(curl -s -o /dev/null -w '%{http_code}' "$EDGE/slow"); echo "$? $code" >> "$2" ) &
    SLOW_PIDS+=($!)
  done
}
wait_slow() { for pid in "${SLOW_PIDS[@]}"; do wait "$pid" || true; done; SLOW_PIDS=(); }
trickle() { # file: 3 slow requests every 200 ms while $WORK/trickle exists
  touch "$WORK/trickle"
  while [ -e "$WORK/trickle" ]; do slow_requests 3 "$1"; sleep 0.2; done
  wait_slow
}
summarize() { # label wrk-output slow-file [extra]
  local total ok
  total=$(wc -l < "$3"); ok=$(grep -c '^0 200$' "$3" || true)
  printf '%-10s wrk %8s requests, non-2xx %s, socket errors %-40s slow %s/%s 200   %s\n' "$1" \
    "$(awk '/requests in/ {print $1}' "$2")" \
    "$(awk '/Non-2xx/ {print $5}' "$2" | grep . || echo 0)" \
    "$(grep -o 'connect [0-9]*, read [0-9]*, write [0-9]*, timeout [0-9]*' "$2" || echo none)" \
    "$ok" "$total" "${4:-}"
}
elapsed_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

scenario_sigterm() {
  start_meshd sigterm "$ADMIN_PORT"; local pid=$MESHD_PID; ready "$ADMIN_PORT"
  : > "$WORK/slow"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$EDGE/ping" > "$WORK/wrk" 2>&1 & local wrk=$!
  sleep 1
  slow_requests 20 "$WORK/slow"; sleep 0.3
  local t0; t0=$(date +%s.%N); kill -TERM "$pid"
  local readyz; readyz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")
  local status=0; wait "$pid" || status=$?
  local took; took=$(elapsed_since "$t0")
  wait "$wrk" || true; wait_slow
  summarize sigterm "$WORK/wrk" "$WORK/slow" "exit $status after ${took}s, /readyz $readyz during the drain"
}

# A restart on one port under wrk and a trickle of slow requests; $1 labels, $2 replaces (and
# says how in DETAIL).
rolling() {
  local label=$1 replace=$2
  : > "$WORK/slow"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "${WRK_FLAGS[@]}" "$EDGE/ping" > "$WORK/wrk" 2>&1 & local wrk=$!
  trickle "$WORK/slow" & local slow=$!
  sleep 1
  $replace
  sleep 1; rm -f "$WORK/trickle"; wait "$slow" || true; wait "$wrk" || true
  summarize "$label" "$WORK/wrk" "$WORK/slow" "$DETAIL"
}
replace_reuseport() {
  start_meshd new "$ADMIN2_PORT"; local new=$MESHD_PID; ready "$ADMIN2_PORT"
  kill -TERM "$OLD_PID"; local status=0; wait "$OLD_PID" || status=$?
  DETAIL="old exit $status"; OLD_PID=$new
}
replace_handover() {
  start_meshd new "$ADMIN_PORT" --handover-socket "$WORK/handover.sock"; local new=$MESHD_PID
  local status=0; wait "$OLD_PID" || status=$?
  DETAIL="old exit $status (drained on its own)"; OLD_PID=$new
}
scenario_reuseport() {
  start_meshd old "$ADMIN_PORT"; OLD_PID=$MESHD_PID; ready "$ADMIN_PORT"
  WRK_FLAGS=(); rolling reuseport replace_reuseport
  kill -TERM "$OLD_PID"; wait "$OLD_PID" || true
}
scenario_handover() {
  start_meshd old "$ADMIN_PORT" --handover-socket "$WORK/handover.sock"; OLD_PID=$MESHD_PID; ready "$ADMIN_PORT"
  WRK_FLAGS=(); rolling handover replace_handover
  kill -TERM "$OLD_PID"; wait "$OLD_PID" || true
}
scenario_upgrade() {
  cp "$MESHD" "$WORK/meshd-next"
  start_meshd old "$ADMIN_PORT" --handover-socket "$WORK/handover.sock"; OLD_PID=$MESHD_PID; ready "$ADMIN_PORT"
  WRK_FLAGS=(); BINARY="$WORK/meshd-next" rolling upgrade replace_handover
  kill -TERM "$OLD_PID"; wait "$OLD_PID" || true
}

nginx_conf() { # name
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1; proxy_temp_path $WORK/$1; fastcgi_temp_path $WORK/$1;
  uwsgi_temp_path $WORK/$1; scgi_temp_path $WORK/$1;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$EDGE_PORT reuseport;
    location = /ping { return 200 "pong"; }
    location /slow { proxy_pass http://127.0.0.1:$UPSTREAM_PORT; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
}
replace_nginx() {
  nginx_conf nginx-new; nginx -c "$WORK/nginx-new/nginx.conf" & local new=$!; PIDS+=($new)
  for _ in $(seq 1 200); do [ -s "$WORK/nginx-new/nginx.pid" ] && break; sleep 0.025; done
  sleep 0.2 # its workers start listening after the pid file is written
  kill -QUIT "$OLD_PID"; local status=0; wait "$OLD_PID" || status=$?
  DETAIL="old exit $status (SIGQUIT)"; OLD_PID=$new
}
scenario_nginx() {
  nginx_conf nginx-old; nginx -c "$WORK/nginx-old/nginx.conf" & OLD_PID=$!; PIDS+=($OLD_PID)
  wait_for "$EDGE/ping"
  WRK_FLAGS=(); rolling nginx replace_nginx
  kill -QUIT "$OLD_PID"; wait "$OLD_PID" || true
}

scenario_churn() {
  local mode
  for mode in reuseport handover; do
    local flags=() errors=0 rounds=0
    [ "$mode" = handover ] && flags=(--handover-socket "$WORK/handover.sock")
    start_meshd old "$ADMIN_PORT" "${flags[@]}"; OLD_PID=$MESHD_PID; ready "$ADMIN_PORT"
    wrk -t2 -c"$CONNECTIONS" -d600s -H 'Connection: close' "$EDGE/ping" > "$WORK/wrk-churn" 2>&1 & local wrk=$!
    sleep 1
    for round in $(seq "$ROUNDS"); do
      local port=$ADMIN_PORT
      if [ "$mode" = reuseport ]; then
        [ $((round % 2)) = 1 ] && port=$ADMIN2_PORT
        start_meshd "churn$round" "$port"; local new=$MESHD_PID; ready "$port"
        kill -TERM "$OLD_PID"; wait "$OLD_PID" || true
      else
        start_meshd "churn$round" "$port" "${flags[@]}"; local new=$MESHD_PID
        wait "$OLD_PID" || true
      fi
      OLD_PID=$new; rounds=$round
    done
    sleep 1; kill -INT "$wrk"; wait "$wrk" || true
    printf '%-10s %s rounds, every request on a new connection: wrk %s requests, socket errors %s, non-2xx %s\n' \
      "churn-$mode" "$rounds" "$(awk '/requests in/ {print $1}' "$WORK/wrk-churn")" \
      "$(grep -o 'connect [0-9]*, read [0-9]*, write [0-9]*, timeout [0-9]*' "$WORK/wrk-churn" || echo none)" \
      "$(awk '/Non-2xx/ {print $5}' "$WORK/wrk-churn" | grep . || echo 0)"
    kill -TERM "$OLD_PID"; wait "$OLD_PID" || true
    rm -f "$WORK/handover.sock"
  done
}

echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s on /ping; slow requests take ${SLOW_DELAY}s; meshd --drain-delay $DRAIN_DELAY"
for scenario in "${SCENARIOS[@]}"; do "scenario_$scenario"; done
