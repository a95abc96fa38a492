#!/usr/bin/env bash
# Kafka → HTTP clients (`serve topic` routes): what one SSE client costs meshd, and how long a
# record takes from the broker to a client. Load-independent figures first (threads and RSS per
# client), then the latency, which needs a quiet machine to mean anything.
#
#   1. meshd runs a program with one serve route on the embedded broker (no --brokers);
#   2. the threads and RSS of meshd are read, CLIENTS curl -N clients connect (each is positioned
#      when its opening comment arrives), and threads and RSS are read again: the difference per
#      client is one librdkafka consumer plus the client's queue;
#   3. RECORDS records are produced one at a time with rdkafka's producer from kcat, each
#      carrying its send time (ns), and one client prints the receive time of each: the median
#      and p99 of (receive - send) are printed.
#
# Run from the repository root:  bash bench/serve.sh
# Settings: MESHD (default target/release/meshd), CLIENTS (default 50), RECORDS (default 200),
# EDGE_PORT (18931), ADMIN_PORT (18932). Needs curl, kcat, python3.
set -euo pipefail

MESHD=${MESHD:-target/release/meshd}
CLIENTS=${CLIENTS:-50}
RECORDS=${RECORDS:-200}
EDGE_PORT=${EDGE_PORT:-18931}
ADMIN_PORT=${ADMIN_PORT:-18932}
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench-key" > "$WORK/key"
cat > "$WORK/serve.mesh" <<MESH
gateway edge {
  listen "127.0.0.1:$EDGE_PORT"
  consumer reader { key file("$WORK/key") }
  route feed { match GET "/feed" auth key header "x-api-key" serve topic "feed" clients 1000 }
}
topic "feed" { partitions 3 }
MESH
"$MESHD" run "$WORK/serve.mesh" --admin "127.0.0.1:$ADMIN_PORT" --no-access-log 2>"$WORK/meshd.log" &
MESHD_PID=$!
PIDS+=("$MESHD_PID")
for _ in $(seq 1 200); do curl -sf "127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && break; sleep 0.05; done
BOOTSTRAP="$(grep -m1 -o 'bootstrap 127\.0\.0\.1:[0-9]*' "$WORK/meshd.log" | cut -d' ' -f2)"

threads() { ls "/proc/$MESHD_PID/task" | wc -l; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$MESHD_PID/status"; }
# wait_for FILE TEXT
wait_for() { for _ in $(seq 1 600); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# One client to time records, opened first.
python3 - "$EDGE_PORT" > "$WORK/timed" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /feed HTTP/1.0\r\nx-api-key: bench-key\r\n\r\n")
buf = b""
while True:
    data = s.recv(65536)
    if not data:
        break
    now = time.time_ns()
    buf += data
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line.startswith(b": serving"):
            print("ready", flush=True)
        elif line.startswith(b"data: "):
            print(int(line[6:]), now, flush=True)
PY
PIDS+=("$!")
wait_for "$WORK/timed" ready

base_threads=$(threads); base_rss=$(rss_kib)
for i in $(seq 1 "$CLIENTS"); do
  curl -sN -H 'x-api-key: bench-key' "127.0.0.1:$EDGE_PORT/feed" > "$WORK/client$i" &
  PIDS+=("$!")
done
for i in $(seq 1 "$CLIENTS"); do wait_for "$WORK/client$i" ': serving feed'; done
after_threads=$(threads); after_rss=$(rss_kib)
echo "clients: $CLIENTS"
echo "threads: $base_threads -> $after_threads ($(( (after_threads - base_threads) / CLIENTS )) per client)"
echo "RSS KiB: $base_rss -> $after_rss ($(( (after_rss - base_rss) / CLIENTS )) KiB per client)"

for _ in $(seq 1 "$RECORDS"); do
  date +%s%N | kcat -b "$BOOTSTRAP" -P -t feed 2>/dev/null
done
for _ in $(seq 1 600); do [ "$(grep -vc ready "$WORK/timed")" -ge "$RECORDS" ] && break; sleep 0.05; done
grep -v ready "$WORK/timed" | python3 -c '
import sys
lat = sorted((int(b) - int(a)) / 1e6 for a, b in (l.split() for l in sys.stdin))
print(f"records: {len(lat)}; broker -> client latency ms: median {lat[len(lat)//2]:.1f}, p99 {lat[int(len(lat)*0.99)-1]:.1f} (includes kcat start-up per record)")
'
