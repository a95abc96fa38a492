#!/usr/bin/env bash
# User-space instructions per produce request, with and without a topic schema, counted by
# valgrind's callgrind: load-independent, so it is the figure to compare while the machine is
# shared. The broker (a second meshd's embedded broker, not under callgrind) is reached with
# --brokers, so only the request path is counted: parse, admit, validate (or not), enqueue and
# answer from the delivery report. Each meshd runs under callgrind twice, idle (start-up) and
# under wrk for SECONDS_UNDER_LOAD; (busy - idle) / requests is the cost of one request.
# Needs valgrind and wrk. Run from the repository root:  bash bench/produce_schema_instructions.sh
# MESHD_BIN=path/to/meshd measures that binary instead of building this tree in release.
set -euo pipefail

SECONDS_UNDER_LOAD=${SECONDS_UNDER_LOAD:-8}
PORT=${PORT:-18941}
BROKER_PORT=${BROKER_PORT:-18942}

for tool in wrk valgrind; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk valgrind >/dev/null; break; }
done
[ -n "${MESHD_BIN:-}" ] || cargo build --release -q -p meshd
MESHD="${MESHD_BIN:-$(pwd)/target/release/meshd}"
WORK="$(mktemp -d)"
BROKER_PID=""
cleanup() { [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/broker.mesh" <<MESH
gateway broker {
  listen "127.0.0.1:$BROKER_PORT"
  route ping { match GET "/ping" public respond 200 "pong" }
}
topic "bench-log" { partitions 3 }
MESH
"$MESHD" run "$WORK/broker.mesh" --no-access-log --workers 1 --admin 127.0.0.1:0 2>"$WORK/broker.log" & BROKER_PID=$!
BROKER=""
for _ in $(seq 1 200); do
  BROKER=$(grep -m1 -o 'bootstrap 127\.0\.0\.1:[0-9]*' "$WORK/broker.log" | cut -d' ' -f2 || true)
  [ -n "$BROKER" ] && break; sleep 0.05
done
[ -n "$BROKER" ] || { echo "no broker bootstrap line" >&2; exit 1; }

cp examples/starfleet/captains-log.schema.json "$WORK/bench-log.schema.json"
produce_mesh() { # file [topic settings]
  cat > "$1" <<MESH
gateway bench {
  listen "127.0.0.1:$PORT"
  route log { match POST prefix "/" public produce topic "bench-log" acks all mode sync }
}
topic "bench-log" { partitions 3 ${2:-} }
MESH
}
produce_mesh "$WORK/plain.mesh"
produce_mesh "$WORK/schema.mesh" 'schema "bench-log.schema.json"'

# The 100-byte body of bench/produce.sh; it satisfies the schema.
BODY='{"stardate":41153.7,"severity":"green","entry":"All quiet on the bridge; tea, Earl Grey, hot.     "}'
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

total_instructions() { # name seconds mesh -> "requests instructions"
  local name=$1 secs=$2 mesh=$3
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.cg" \
    "$MESHD" run "$mesh" --brokers "$BROKER" --no-access-log --workers 1 --admin 127.0.0.1:0 >/dev/null 2>"$WORK/$name.err" &
  local pid=$! status=""
  for _ in $(seq 1 600); do
    status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d "$BODY" "http://127.0.0.1:$PORT/log" || true)
    [ "$status" = 200 ] && break; sleep 0.2
  done
  [ "$status" = 200 ] || { echo "meshd ($name) never answered 200" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  local requests=1
  if [ "$secs" != 0 ]; then
    requests=$(( $(wrk -t1 -c8 -d"${secs}s" -s "$WORK/post.lua" "http://127.0.0.1:$PORT/log" | awk '/requests in/ {print $1}') + 1 ))
  fi
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  echo "$requests $(cat "$WORK/$name.cg"* | awk '/^summary:/ {s+=$2} /^totals:/ {t+=$2} END {print (s>0?s:t)}')"
}

per_request() { # label name mesh -> prints and stores instructions/request
  read -r idle_requests idle < <(total_instructions "$2-idle" 0 "$3")
  read -r requests busy < <(total_instructions "$2-busy" "$SECONDS_UNDER_LOAD" "$3")
  awk -v l="$1" -v r="$requests" -v ir="$idle_requests" -v b="$busy" -v i="$idle" \
    'BEGIN { printf "%-28s %10.0f instructions/request (%d requests)\n", l, (b - i) / (r - ir), r - ir }'
  awk -v r="$requests" -v ir="$idle_requests" -v b="$busy" -v i="$idle" 'BEGIN { printf "%.0f\n", (b - i) / (r - ir) }' > "$WORK/per-$2"
}

per_request "produce" plain "$WORK/plain.mesh"
per_request "produce + schema" schema "$WORK/schema.mesh"
awk -v p="$(cat "$WORK/per-plain")" -v s="$(cat "$WORK/per-schema")" \
  'BEGIN { printf "schema validation adds %.0f instructions/request: produce+schema runs at %.2fx the requests/instruction of produce (target >= 0.90x)\n", s - p, p / s }'
