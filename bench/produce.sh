#!/usr/bin/env bash
# HTTP → Kafka benchmark: in one run, wrk POSTs 100-byte bodies to
#   1. meshd plain forward  (route forwards to an nginx upstream), and
#   2. meshd produce         (route produces each body to a topic: mode sync, acks all, so every
#                             200 waits for the broker's acknowledgement),
#   3. meshd produce + schema (the same route, its topic carrying a JSON Schema the body passes:
#                             every request is parsed and validated before it is produced),
# and prints req/s, the ratio produce / plain forward and the ratio produce+schema / produce.
#
# The broker is librdkafka's mock cluster, the embedded broker meshd starts without --brokers.
# Two placements are measured:
#   - "broker on the load core": a second meshd, pinned with wrk and the upstream on core 1,
#     starts the embedded broker; the meshd under test (core 0) reaches it with --brokers. This is
#     the like-for-like figure: the broker, like nginx in the forward case, is off the proxy's core.
#   - "broker embedded": the meshd under test starts the broker itself, so the broker's thread
#     shares core 0 with the request path (what `meshd run` does on a laptop).
#
# Fairness on a 2-core machine, as in bench/proxy.sh: meshd under test with one worker alone on
# core 0; wrk and the upstream (nginx or the broker) on core 1; access logs off.
# Run from the repository root:  bash bench/produce.sh
# Settings: DURATION (s, default 10), CONNECTIONS (default 64), PROXY_CORE (0), LOAD_CORE (1).
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
UPSTREAM_PORT=${UPSTREAM_PORT:-18911}
FORWARD_PORT=${FORWARD_PORT:-18912}
PRODUCE_PORT=${PRODUCE_PORT:-18913}
EMBEDDED_PORT=${EMBEDDED_PORT:-18914}
BROKER_PORT=${BROKER_PORT:-18915}
SCHEMA_PORT=${SCHEMA_PORT:-18916}

source "$(dirname "$0")/bench_setup.sh"

bootstrap_of() { # log file: the address meshd logs on its "bootstrap" line
  for _ in $(seq 1 200); do
    local address
    address=$(grep -m1 -o 'bootstrap 127\.0\.0\.1:[0-9]*' "$1" | cut -d' ' -f2 || true)
    if [ -n "$address" ]; then echo "$address"; return 0; fi
    sleep 0.05
  done
  echo "no bootstrap line in $1" >&2; exit 1
}

# The upstream of the forward case: nginx answering a small JSON body.
mkdir -p "$WORK/upstream"
cat > "$WORK/upstream/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/upstream;
  proxy_temp_path $WORK/upstream;
  fastcgi_temp_path $WORK/upstream;
  uwsgi_temp_path $WORK/upstream;
  scgi_temp_path $WORK/upstream;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT reuseport;
    location / { default_type application/json; return 200 "{\"ok\":true,\"from\":\"upstream\"}"; }
  }
}
CONF
taskset -c "$LOAD_CORE" nginx -c "$WORK/upstream/nginx.conf" & PIDS+=($!)

cat > "$WORK/forward.mesh" <<MESH
gateway bench {
  listen "127.0.0.1:$FORWARD_PORT"
  route all { match * prefix "/" public forward upstream }
}
service upstream { endpoints ["127.0.0.1:$UPSTREAM_PORT"] timeout 5s }
MESH
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/forward.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/forward.log" & PIDS+=($!)

# The broker on the load core: a meshd whose bundle declares the topic starts the embedded broker.
cat > "$WORK/broker.mesh" <<MESH
gateway broker {
  listen "127.0.0.1:$BROKER_PORT"
  route ping { match GET "/ping" public respond 200 "pong" }
}
topic "bench-log" { partitions 3 }
MESH
taskset -c "$LOAD_CORE" "$MESHD" run "$WORK/broker.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/broker.log" & PIDS+=($!)
BROKER="$(bootstrap_of "$WORK/broker.log")"

produce_mesh() { # port [topic settings]
  cat <<MESH
gateway bench {
  listen "127.0.0.1:$1"
  route log { match POST prefix "/" public produce topic "bench-log" acks all mode sync }
}
topic "bench-log" { partitions 3 ${2:-} }
MESH
}
# The captain's log schema of examples/starfleet: an object, three required typed fields.
cp "$(dirname "$0")/../examples/starfleet/captains-log.schema.json" "$WORK/bench-log.schema.json"
produce_mesh "$SCHEMA_PORT" 'schema "bench-log.schema.json"' > "$WORK/schema.mesh"
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/schema.mesh" --brokers "$BROKER" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/schema.log" & PIDS+=($!)
produce_mesh "$PRODUCE_PORT" > "$WORK/produce.mesh"
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/produce.mesh" --brokers "$BROKER" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/produce.log" & PIDS+=($!)
produce_mesh "$EMBEDDED_PORT" > "$WORK/embedded.mesh"
taskset -c "$PROXY_CORE" "$MESHD" run "$WORK/embedded.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/embedded.log" & PIDS+=($!)

wait_for "http://127.0.0.1:$UPSTREAM_PORT/"
wait_for "http://127.0.0.1:$FORWARD_PORT/"
wait_for "http://127.0.0.1:$PRODUCE_PORT/"
wait_for "http://127.0.0.1:$EMBEDDED_PORT/"
wait_for "http://127.0.0.1:$SCHEMA_PORT/"

# 100-byte JSON bodies, POSTed.
BODY='{"stardate":41153.7,"severity":"green","entry":"All quiet on the bridge; tea, Earl Grey, hot.     "}'
[ "${#BODY}" -eq 100 ] || { echo "the body is ${#BODY} bytes, not 100" >&2; exit 1; }
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
for port in "$FORWARD_PORT" "$PRODUCE_PORT" "$EMBEDDED_PORT" "$SCHEMA_PORT"; do
  status=$(curl -s -o "$WORK/answer" -w '%{http_code}' -X POST -H 'content-type: application/json' -d "$BODY" "http://127.0.0.1:$port/log")
  [ "$status" = 200 ] || { echo "POST to port $port answered $status: $(cat "$WORK/answer")" >&2; exit 1; }
done

run_wrk() { # label url
  local label=$1 url=$2
  taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/post.lua" "$url" >/dev/null 2>&1 # warm-up
  local out rps p99 errors
  out=$(taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$url")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%-44s %12s req/s   p99 %8s   %s\n' "$label" "$rps" "$p99" "$errors"
  echo "$rps" > "$WORK/rps-$3"
}

echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s, POST 100-byte bodies; meshd on core $PROXY_CORE, wrk + upstream/broker on core $LOAD_CORE"
run_wrk "meshd plain forward (nginx upstream)" "http://127.0.0.1:$FORWARD_PORT/log" forward
run_wrk "meshd produce, sync acks all (broker core $LOAD_CORE)" "http://127.0.0.1:$PRODUCE_PORT/log" produce
run_wrk "meshd produce, sync acks all (broker embedded)" "http://127.0.0.1:$EMBEDDED_PORT/log" embedded
run_wrk "meshd produce + schema (broker core $LOAD_CORE)" "http://127.0.0.1:$SCHEMA_PORT/log" schema
awk -v f="$(cat "$WORK/rps-forward")" -v p="$(cat "$WORK/rps-produce")" -v e="$(cat "$WORK/rps-embedded")" \
  'BEGIN { printf "produce / plain forward: %.2fx (broker on the load core)   %.2fx (broker embedded)\n", p / f, e / f }'
awk -v p="$(cat "$WORK/rps-produce")" -v s="$(cat "$WORK/rps-schema")" \
  'BEGIN { printf "produce + schema / produce: %.2fx (target >= 0.90x)\n", s / p }'
