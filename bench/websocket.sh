#!/usr/bin/env bash
# WebSocket through a proxy: nginx (the reference, `proxy_set_header Upgrade/Connection`) beside
# meshd (a `forward` route; upgrades pass by default). One PyPI `websockets` server
# (runtime/tests/websocket_fixtures/ws_echo_server.py) behind both. Prints, side by side:
#   - resident memory per open, idle WebSocket (TUNNELS of them, default 1000): load-independent;
#   - bulk throughput of one tunnel, server → client (the fixture's /flood: 128 MiB, incompressible,
#     compression off), direct and through each proxy. The Python client bounds this figure: it is
#     a ratio to "direct", to take on a quiet machine.
# Each proxy runs one worker pinned on PROXY_CORE; the server and client share LOAD_CORE.
# Run from the repository root:  bash bench/websocket.sh   (MESHD_BIN=… to use another binary)
set -euo pipefail

TUNNELS=${TUNNELS:-1000}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX_PORT=${NGINX_PORT:-18951}
MESHD_PORT=${MESHD_PORT:-18952}

source "$(dirname "$0")/bench_setup.sh"
python3 -c "import websockets" 2>/dev/null || python3 -m pip install --quiet websockets==17.4
CLIENT="$(pwd)/bench/websocket_client.py"

taskset -c "$LOAD_CORE" python3 runtime/tests/websocket_fixtures/ws_echo_server.py > "$WORK/server.out" & PIDS+=($!)
for _ in $(seq 1 200); do grep -q listening "$WORK/server.out" 2>/dev/null && break; sleep 0.05; done
SERVER_PORT=$(awk '/listening/{print $2}' "$WORK/server.out")

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx;
  scgi_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://127.0.0.1:$SERVER_PORT;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 300s;
    }
  }
}
CONF
taskset -c "$PROXY_CORE" nginx -c "$WORK/nginx/nginx.conf" & PIDS+=($!)
NGINX_PID=$!

mkdir -p "$WORK/program"
cat > "$WORK/program/edge.mesh" <<MESH
gateway edge {
  listen "127.0.0.1:$MESHD_PORT"
  route ws { match GET prefix "/" public forward ws }
}
service ws { endpoints ["127.0.0.1:$SERVER_PORT"] timeout 10s }
MESH
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/program" --workers 1 --no-access-log --admin 127.0.0.1:0 \
  > "$WORK/meshd.out" 2>&1 & PIDS+=($!)
MESHD_PID=$!
wait_for "http://127.0.0.1:$NGINX_PORT/"
wait_for "http://127.0.0.1:$MESHD_PORT/"

rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
# nginx's worker holds the connections; its master is the pid started above.
nginx_worker() { pgrep -P "$NGINX_PID" | head -1; }

per_tunnel() { # name port pid
  taskset -c "$LOAD_CORE" python3 "$CLIENT" open "ws://127.0.0.1:$2/echo" 1 < /dev/null > /dev/null
  local before after fifo="$WORK/$1.fifo"
  before=$(rss "$3")
  mkfifo "$fifo"
  taskset -c "$LOAD_CORE" python3 "$CLIENT" open "ws://127.0.0.1:$2/echo" "$TUNNELS" < "$fifo" > "$WORK/$1.open" &
  exec 3> "$fifo"
  until grep -q open "$WORK/$1.open" 2>/dev/null; do sleep 0.2; done
  after=$(rss "$3")
  exec 3>&-
  wait $! 2>/dev/null || true
  printf '%-8s RSS %6d KiB idle → %6d KiB with %d open: %5.1f KiB per tunnel\n' \
    "$1" "$before" "$after" "$TUNNELS" "$(echo "($after - $before) / $TUNNELS" | bc -l)"
}

echo "== memory per open WebSocket ($TUNNELS tunnels)"
per_tunnel nginx "$NGINX_PORT" "$(nginx_worker)"
per_tunnel meshd "$MESHD_PORT" "$MESHD_PID"

echo "== one tunnel, 128 MiB server → client (MiB/s; Python client, compare with direct)"
for target in "direct $SERVER_PORT" "nginx $NGINX_PORT" "meshd $MESHD_PORT"; do
  set -- $target
  printf '%-8s %s MiB/s\n' "$1" "$(taskset -c "$LOAD_CORE" python3 "$CLIENT" flood "ws://127.0.0.1:$2/flood")"
done
