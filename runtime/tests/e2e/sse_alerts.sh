#!/usr/bin/env bash
# The starfleet example's `GET /alerts` (red-alerts as Server-Sent Events) through a real meshd,
# read with `curl -N` as the README shows, while red entries are posted to /log and written with
# kcat; then a reconnect with Last-Event-ID, and the long-poll form.
#
#   bash runtime/tests/e2e/sse_alerts.sh [path/to/meshd]
#
# Same environment as kafka_kcat.sh. Every wait is on a signal (a line appearing in curl's
# output, bounded by 20 s so a broken build fails instead of hanging).
set -uo pipefail

source "$(dirname "$0")/serve_example.sh"
serve_example "${1:-}" --no-access-log

BOOTSTRAP="$(bootstrap_servers)" || exit 1
KEY=(-H "x-api-key: $PICARD_KEY")
CURL_PIDS=()
stop_curls() { for pid in "${CURL_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done; }
trap 'stop_curls; cleanup' EXIT

# wait_for FILE TEXT: until FILE contains TEXT (20 s at most).
wait_for() {
  for _ in $(seq 1 400); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

log() {
  curl -s -o /dev/null -w '%{http_code}' "${KEY[@]}" -H 'content-type: application/json' -d "$1" "$EDGE/log"
}

status=$(curl -s -o "$WORK/denied" -w '%{http_code}' "$EDGE/alerts")
[ "$status" = 401 ] && ! grep -q 'data:' "$WORK/denied" \
  && pass "GET /alerts without a key is 401, before any record" || fail "no key: $status $(cat "$WORK/denied")"

curl -sN "${KEY[@]}" "$EDGE/alerts" > "$WORK/sse1" 2>>"$WORK/curl.log" &
CURL_PIDS+=($!)
wait_for "$WORK/sse1" ': serving red-alerts' \
  && pass "curl -N on /alerts opens the stream" || fail "no opening comment: $(cat "$WORK/sse1")"

[ "$(log '{"stardate":41153.7,"severity":"red","entry":"Borg cube sighted"}')" = 200 ] \
  && pass "a red entry is logged" || fail "POST /log (red) failed"
[ "$(log '{"stardate":41153.8,"severity":"green","entry":"Tea, Earl Grey, hot"}')" = 200 ] \
  && pass "a green entry is logged" || fail "POST /log (green) failed"
wait_for "$WORK/sse1" 'Borg cube sighted' \
  && pass "the red entry arrives as an event" || fail "no red event: $(cat "$WORK/sse1")"
printf '%s\n' '{"stardate":41154.1,"severity":"red","entry":"Romulan warbird decloaking"}' \
  | kcat -b "$BOOTSTRAP" -P -t captains-log -k enterprise 2>>"$WORK/kcat.log"
wait_for "$WORK/sse1" 'Romulan warbird' \
  && pass "a red record written with kcat arrives too" || fail "no kcat event: $(cat "$WORK/sse1")"
grep -q 'Earl Grey' "$WORK/sse1" && fail "the green entry was streamed" || pass "the green entry is not streamed"
grep -q '^id: [0-9]*:[0-9]*' "$WORK/sse1" && pass "events carry a position id" || fail "no id: $(cat "$WORK/sse1")"
LAST_ID="$(grep '^id: ' "$WORK/sse1" | tail -1 | cut -d' ' -f2)"
stop_curls
CURL_PIDS=()

# While no client listens, another red entry; the reconnect gets it, and nothing twice.
[ "$(log '{"stardate":41154.5,"severity":"red","entry":"Hull breach on deck 7"}')" = 200 ] \
  && pass "a red entry is logged while nobody listens" || fail "POST /log failed"
curl -sN "${KEY[@]}" -H "Last-Event-ID: $LAST_ID" "$EDGE/alerts" > "$WORK/sse2" 2>>"$WORK/curl.log" &
CURL_PIDS+=($!)
wait_for "$WORK/sse2" 'Hull breach' \
  && pass "a reconnect with Last-Event-ID gets what it missed" || fail "nothing resumed: $(cat "$WORK/sse2")"
grep -qE 'Borg cube|Romulan' "$WORK/sse2" && fail "the reconnect repeated events: $(cat "$WORK/sse2")" \
  || pass "the reconnect repeats nothing"
stop_curls
CURL_PIDS=()

curl -s "${KEY[@]}" "$EDGE/alerts?from=earliest&wait=2s" > "$WORK/poll"
for entry in 'Borg cube sighted' 'Romulan warbird decloaking' 'Hull breach on deck 7'; do
  grep -qF "$entry" "$WORK/poll" || missing="${missing:-} $entry"
done
[ -z "${missing:-}" ] && grep -q '"next":"' "$WORK/poll" \
  && pass "the long-poll form answers every red entry and the next position" \
  || fail "long poll: missing [${missing:-}] in $(cat "$WORK/poll")"

curl -s "$ADMIN/metrics" > "$WORK/metrics"
grep -q 'kafka_serve_events_total{route="alerts",topic="red-alerts"}' "$WORK/metrics" \
  && pass "metrics count the events served" || fail "metrics: $(grep kafka_serve "$WORK/metrics")"

echo "$PASSED passed, $FAILED failed"
if [ "$FAILED" -ne 0 ]; then
  echo "--- meshd.log"; cat "$WORK/meshd.log"
  exit 1
fi
