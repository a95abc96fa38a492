#!/usr/bin/env bash
# Drives the starfleet example through a real meshd with curl, the way the README tells a newcomer to.
#
#   bash runtime/tests/e2e/starfleet.sh [path/to/meshd]
#
# The example is copied to a temporary directory; EDGE_PORT, ADMIN_PORT and UPSTREAM_PORTS (five
# ports for picard ×2, riker, data, computer) move it off its usual ports when set, so the script
# can run beside anything else. Prints one line per check and "N passed, M failed"; exits 1 on a failure.
set -uo pipefail

source "$(dirname "$0")/serve_example.sh"
serve_example "${1:-}"

BODY="$WORK/body"
# check NAME EXPECTED_STATUS [BODY_SUBSTRING] -- CURL_ARGS...
check() {
  local name=$1 expected=$2 needle=""
  shift 2
  if [ "$1" != "--" ]; then needle=$1; shift; fi
  shift
  local status
  status=$(curl -s -o "$BODY" -w '%{http_code}' "$@")
  if [ "$status" = "$expected" ] && { [ -z "$needle" ] || grep -q -- "$needle" "$BODY"; }; then
    PASSED=$((PASSED + 1)); echo "ok    $name"
  else
    FAILED=$((FAILED + 1)); echo "FAIL  $name: got $status $(head -c 300 "$BODY"), expected $expected ${needle:+containing $needle}"
  fi
}

check "GET /ping answers pong" 200 "pong" -- "$EDGE/ping"
check "an unknown path is a JSON 404" 404 '"status":404' -- "$EDGE/warp-core"
check "a wrong method is a 404, as in the Gateway API" 404 '"status":404' -- -X DELETE "$EDGE/ping"
check "the admin says ready" 200 '"ready":true' -- "$ADMIN/readyz"
check "the admin names the bundle" 200 '"digest":"sha256:' -- "$ADMIN/bundle"
check "metrics count the ping" 200 'route="ping",status="200"' -- "$ADMIN/metrics"

# Key auth in x-api-key, 5 requests a minute per consumer, forwarded to picard's demo upstream.
check "no key is a 401" 401 -- "$EDGE/officers/1"
check "a wrong key is a 401" 401 -- -H "x-api-key: wrong" "$EDGE/officers/1"
for n in 1 2 3 4 5; do
  # Through picard's sidecar, which verified the gateway's mTLS identity ("source":"edge").
  check "picard's request $n reaches picard's service" 200 '"service":"picard","source":"edge"' -- -H "x-api-key: $PICARD_KEY" "$EDGE/officers/$n"
done
check "the 6th request in a minute is a 429" 429 -- -H "x-api-key: $PICARD_KEY" "$EDGE/officers/6"
check "a denial says which step refused it" 401 -- -H "x-api-key: wrong" -D "$WORK/denied.headers" "$EDGE/officers/7"
if grep -qi '^x-meshwork-denied-by: .*auth' "$WORK/denied.headers"; then
  PASSED=$((PASSED + 1)); echo "ok    the denial header names the auth step"
else
  FAILED=$((FAILED + 1)); echo "FAIL  no x-meshwork-denied-by naming auth:"; cat "$WORK/denied.headers"
fi

# The mesh, as the README's "The mesh" section shows it: a sidecar (mTLS) at each endpoint, the
# demo app beside it (its address is on the sidecar's log line), calls between apps through them.
app_of() { # service: the demo app's address from meshd's log
  grep "demo mesh: sidecar" "$WORK/meshd.log" | grep "service=$1 " | head -1 | sed -E 's/.* app=([0-9.:]+).*/\1/'
}
PICARD_APP=$(app_of picard)
RIKER_APP=$(app_of riker)
check "picard -> riker GET is allowed by the mesh" 200 '"source":"picard"' -- "http://$PICARD_APP/call/riker/reports"
check "picard -> riker POST is refused by the mesh's default" 403 'mesh.mesh:8' -- \
  -X POST "http://$PICARD_APP/call/riker/reports"
check "riker -> data is refused" 403 'rule=default deny' -- "http://$RIKER_APP/call/data/scan"
check "plaintext to a strict sidecar gets no HTTP answer" 000 -- "http://127.0.0.1:${UPSTREAM_PORTS[2]}/"
# The computer core speaks tcp: the app sends a line through its sidecar's --tcp listener.
check "picard's line reaches the computer over the tcp mesh" 200 "computer@127.0.0.1:${UPSTREAM_PORTS[4]}: status report" -- \
  -d "status report" "http://$PICARD_APP/tcp/computer"
check "riker's connection to the computer is refused" 502 'nothing received' -- -d "status" "http://$RIKER_APP/tcp/computer"

check "POST /reload keeps serving the same bundle" 200 '"changed":false' -- -X POST "$ADMIN/reload"
kill "$MESHD_PID" 2>/dev/null; wait "$MESHD_PID" 2>/dev/null; MESHD_PID=""
if grep -q '"route":"ping","consumer":null,"method":"GET","path":"/ping","status":200' "$WORK/access.log"; then
  PASSED=$((PASSED + 1)); echo "ok    the access log has the ping"
else
  FAILED=$((FAILED + 1)); echo "FAIL  the access log has no ping line:"; head -5 "$WORK/access.log"
fi
if grep -q '"direction":"inbound","protocol":"tcp","source":"riker".*"outcome":"denied"' "$WORK/access.log"; then
  PASSED=$((PASSED + 1)); echo "ok    the access log has the refused tcp connection"
else
  FAILED=$((FAILED + 1)); echo "FAIL  no denied tcp line:"; grep '"protocol":"tcp"' "$WORK/access.log" | head -5
fi
# A clean stop: nothing warned (the demo CA's files used to vanish under the gateway's
# certificate watcher), and meshd said it stopped.
if grep -q 'INFO stopped' "$WORK/meshd.log" && ! grep -qE ' (WARN|ERROR) ' "$WORK/meshd.log"; then
  PASSED=$((PASSED + 1)); echo "ok    meshd stopped without a warning"
else
  FAILED=$((FAILED + 1)); echo "FAIL  meshd's stop:"; grep -E ' (WARN|ERROR) |stopped' "$WORK/meshd.log" | head -5
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
