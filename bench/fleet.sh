#!/usr/bin/env bash
# Fleet benchmark: N meshd (release) poll one plain nginx for a signed bundle, on loopback.
#
#   1. Convergence: publish a new bundle (meshc build --serial --sign, written atomically into the
#      directory nginx serves) and time until every instance's /bundle reports the new digest.
#      Repeated ROUNDS times; min / median / max. The bound is the poll interval plus jitter.
#   2. The cost of polling: with nothing published, for IDLE seconds, count the 304s the fleet
#      received and the CPU time nginx and the whole fleet used (from /proc/<pid>/stat).
#
# Run from the repository root:  bash bench/fleet.sh
# Settings: INSTANCES (default 50), INTERVAL (poll interval, default 1s), ROUNDS (default 5),
#           IDLE (seconds, default 30).
set -euo pipefail

INSTANCES=${INSTANCES:-50}
INTERVAL=${INTERVAL:-1s}
ROUNDS=${ROUNDS:-5}
IDLE=${IDLE:-30}

source "$(dirname "$0")/bench_setup.sh"
cargo build --release -q -p meshc
MESHC="$(pwd)/target/release/meshc"
mkdir -p "$WORK/www" "$WORK/nginx" "$WORK/logs"

"$MESHD" keygen --out "$WORK/ops" >/dev/null
program() { # answer
  printf 'gateway edge {\n  listen "127.0.0.1:0"\n  route ping { match GET "/ping"  public  respond 200 "%s" }\n}\n' "$1" > "$WORK/app.mesh"
}
publish() { # serial: build, sign, write the signature then the bundle (both atomically)
  program "v$1"
  "$MESHC" build "$WORK/app.mesh" -o "$WORK/www/edge.json" --serial "$1" --sign "$WORK/ops.key" 2>&1 \
    | grep -o 'sha256:[0-9a-f]*' | head -1
}

# nginx on a free port, configured in the scratch directory.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  types { application/json json; }
  server { listen 127.0.0.1:$PORT; root $WORK/www; }
}
CONF
DIGEST=$(publish 1)
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX=$!
PIDS+=("$NGINX")
wait_for "http://127.0.0.1:$PORT/edge.json"

echo "starting $INSTANCES meshd polling http://127.0.0.1:$PORT/edge.json every $INTERVAL" >&2
for i in $(seq 1 "$INSTANCES"); do
  "$MESHD" run "http://127.0.0.1:$PORT/edge.json" --admin 127.0.0.1:0 --workers 1 --no-access-log \
    --verify-key "$WORK/ops.pub" --cache-dir "$WORK/cache-$i" --poll-interval "$INTERVAL" \
    2> "$WORK/logs/$i.log" &
  PIDS+=("$!")
done
ADMINS=()
for i in $(seq 1 "$INSTANCES"); do
  for _ in $(seq 1 400); do
    admin=$(grep -m1 -o 'admin listening address=127\.0\.0\.1:[0-9]*' "$WORK/logs/$i.log" | cut -d= -f2 || true)
    [ -n "$admin" ] && break
    sleep 0.05
  done
  [ -n "$admin" ] || { echo "meshd $i did not start" >&2; cat "$WORK/logs/$i.log" >&2; exit 1; }
  ADMINS+=("$admin")
done
printf '%s\n' "${ADMINS[@]}" > "$WORK/admins"

# Waits until every admin reports DIGEST; prints the seconds since START (a float).
converge() { # digest start
  python3 - "$WORK/admins" "$1" "$2" <<'PY'
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
admins = open(sys.argv[1]).read().split()
digest, start = sys.argv[2], float(sys.argv[3])
def digest_of(admin):
    try:
        with urllib.request.urlopen(f"http://{admin}/bundle", timeout=5) as r:
            return json.load(r)["digest"]
    except Exception:
        return None
pending = set(admins)
with ThreadPoolExecutor(16) as pool:
    while pending:
        done = {a for a, d in zip(list(pending), pool.map(digest_of, list(pending))) if d == digest}
        pending -= done
        if time.time() - start > 120:
            sys.exit(f"{len(pending)} instances did not converge")
        time.sleep(0.01)
print(f"{time.time() - start:.3f}")
PY
}

converge "$DIGEST" "$(date +%s.%N)" >/dev/null
echo "all $INSTANCES serve serial 1" >&2
TIMES=()
for round in $(seq 2 $((ROUNDS + 1))); do
  sleep 1.1   # a new second: nginx's ETag is the file's mtime and size
  START=$(date +%s.%N)
  DIGEST=$(publish "$round")
  TIMES+=("$(converge "$DIGEST" "$START")")
  echo "round $((round - 1)): ${TIMES[-1]} s" >&2
done

cpu_ticks() { # pid: utime + stime in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
fleet_ticks() {
  local total=0
  for pid in "${PIDS[@]:1}"; do total=$((total + $(cpu_ticks "$pid"))); done
  echo "$total"
}
not_modified() {
  local total=0
  for admin in "${ADMINS[@]}"; do
    n=$(curl -s "http://$admin/metrics" | awk '/^meshd_bundle_fetches_total\{outcome="not_modified"\}/ {print $2}')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)
N0=$(not_modified); NG0=$(cpu_ticks "$NGINX"); F0=$(fleet_ticks)
sleep "$IDLE"
N1=$(not_modified); NG1=$(cpu_ticks "$NGINX"); F1=$(fleet_ticks)

python3 - "$INSTANCES" "$INTERVAL" "$IDLE" "$HZ" "$((N1 - N0))" "$((NG1 - NG0))" "$((F1 - F0))" "${TIMES[@]}" <<'PY'
import statistics, sys
instances, interval, idle, hz, polls, nginx, fleet = sys.argv[1:8]
times = sorted(float(t) for t in sys.argv[8:])
idle, hz = float(idle), float(hz)
print(f"fleet of {instances} meshd, poll interval {interval} (+ jitter of a fifth), load average {open('/proc/loadavg').read().split()[0]}")
print(f"upload -> whole fleet serving: min {times[0]:.3f} s, median {statistics.median(times):.3f} s, max {times[-1]:.3f} s over {len(times)} rounds")
print(f"idle polling for {idle:.0f} s: {polls} x 304 ({int(polls)/idle:.1f}/s)")
print(f"  nginx CPU: {int(nginx)/hz:.2f} s = {100*int(nginx)/hz/idle:.2f} % of one core")
print(f"  fleet CPU: {int(fleet)/hz:.2f} s = {100*int(fleet)/hz/idle:.2f} % of one core ({1000*int(fleet)/hz/max(int(polls),1):.3f} ms per poll, all threads)")
PY
