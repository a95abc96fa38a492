# Sourced by the end-to-end scripts: copies the starfleet example to a temporary directory, moves
# it onto the ports asked for, starts meshd on it with demo upstreams and waits until it is ready.
#
#   source "$(dirname "$0")/serve_example.sh"; serve_example "$@" [extra meshd flags...]
#
# Reads MESHD (the binary; default target/release/meshd), EXAMPLE, EDGE_PORT, ADMIN_PORT and
# UPSTREAM_PORTS (five ports for picard ×2, riker, data, computer). Sets WORK (meshd.log and access.log are
# there), MESHD_PID, EDGE, ADMIN, PICARD_KEY, and the counters PASSED / FAILED with pass and fail.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
EXAMPLE="${EXAMPLE:-$ROOT/examples/starfleet}"
EDGE_PORT="${EDGE_PORT:-8080}"
ADMIN_PORT="${ADMIN_PORT:-9901}"
read -r -a UPSTREAM_PORTS <<< "${UPSTREAM_PORTS:-9101 9102 9103 9104 9105}"
EDGE="http://127.0.0.1:$EDGE_PORT"
ADMIN="http://127.0.0.1:$ADMIN_PORT"

WORK="$(mktemp -d)"
MESHD_PID=""
cleanup() {
  if [ -n "$MESHD_PID" ]; then kill "$MESHD_PID" 2>/dev/null; wait "$MESHD_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok    $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL  $1"; }

# serve_example [MESHD] [extra meshd flags...]: the access log goes to $WORK/access.log.
serve_example() {
  local meshd="${1:-$ROOT/target/release/meshd}"
  shift || true
  cp "$EXAMPLE"/*.mesh "$EXAMPLE"/*.json "$WORK/"
  sed -i \
    -e "s/127\.0\.0\.1:8080/127.0.0.1:$EDGE_PORT/" \
    -e "s/127\.0\.0\.1:9101/127.0.0.1:${UPSTREAM_PORTS[0]}/" \
    -e "s/127\.0\.0\.1:9102/127.0.0.1:${UPSTREAM_PORTS[1]}/" \
    -e "s/127\.0\.0\.1:9103/127.0.0.1:${UPSTREAM_PORTS[2]}/" \
    -e "s/127\.0\.0\.1:9104/127.0.0.1:${UPSTREAM_PORTS[3]}/" \
    -e "s/127\.0\.0\.1:9105/127.0.0.1:${UPSTREAM_PORTS[4]}/" \
    "$WORK"/*.mesh
  export PICARD_KEY="picard-$RANDOM$RANDOM"
  "$meshd" run "$WORK" --demo-upstreams --admin "127.0.0.1:$ADMIN_PORT" "$@" \
    >"$WORK/access.log" 2>"$WORK/meshd.log" &
  MESHD_PID=$!
  # Ready when this meshd says its admin listens and /readyz answers: another process that took
  # the port between the runner's choice and this bind would answer /readyz too.
  for _ in $(seq 1 200); do
    if ! kill -0 "$MESHD_PID" 2>/dev/null; then
      echo "meshd exited:"; cat "$WORK/meshd.log"
      # A port taken since the runner chose it: exit 75 (EX_TEMPFAIL), and the runner tries
      # again on other ports.
      grep -q "Address already in use" "$WORK/meshd.log" && exit 75
      exit 1
    fi
    grep -q "admin listening" "$WORK/meshd.log" && curl -sf "$ADMIN/readyz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "meshd was not ready in 10 s:"; cat "$WORK/meshd.log"; exit 1
}

# bootstrap_servers: the embedded broker's address from meshd's log (logged before it is ready).
bootstrap_servers() {
  local address
  address="$(grep -m1 -o 'bootstrap 127\.0\.0\.1:[0-9]*' "$WORK/meshd.log" | cut -d' ' -f2)"
  [ -n "$address" ] || { echo "no broker address in the log:" >&2; cat "$WORK/meshd.log" >&2; exit 1; }
  echo "$address"
}
