#!/usr/bin/env bash
# The starfleet example's Kafka side through a real meshd and its embedded broker, checked with
# curl and kcat the way the README tells a newcomer to watch the topics.
#
#   bash runtime/tests/e2e/kafka_kcat.sh [path/to/meshd]
#
# The example is copied to a temporary directory; EDGE_PORT, ADMIN_PORT and UPSTREAM_PORTS (four
# ports) move it off its usual ports when set. meshd runs without --brokers, so it starts the
# embedded broker and logs its bootstrap address; kcat reads that address from the log.
# Prints one line per check and "N passed, M failed"; exits 1 on a failure.
set -uo pipefail

source "$(dirname "$0")/serve_example.sh"
serve_example "${1:-}" --no-access-log

# The one line a user looks for: "… bootstrap 127.0.0.1:PORT …".
BOOTSTRAP="$(grep -m1 -o 'bootstrap 127\.0\.0\.1:[0-9]*' "$WORK/meshd.log" | cut -d' ' -f2)"
if [ -z "$BOOTSTRAP" ]; then echo "FAIL  meshd logged no bootstrap address:"; cat "$WORK/meshd.log"; exit 1; fi
echo "embedded broker at $BOOTSTRAP"

BODY="$WORK/body"
# post NAME EXPECTED_STATUS BODY_SUBSTRING CURL_ARGS...
post() {
  local name=$1 expected=$2 needle=$3 status
  shift 3
  status=$(curl -s -o "$BODY" -w '%{http_code}' -X POST "$@")
  if [ "$status" = "$expected" ] && grep -q -- "$needle" "$BODY"; then
    pass "$name"
  else
    fail "$name: got $status $(head -c 300 "$BODY"), expected $expected containing $needle"
  fi
}

# consume TOPIC COUNT: waits (20 s at most) until TOPIC holds COUNT records, then prints every
# record it holds as "key|value|headers" lines, so a test sees extra records too.
consume() {
  timeout 20 kcat -b "$BOOTSTRAP" -C -q -t "$1" -o beginning -c "$2" -f '.' >/dev/null 2>>"$WORK/kcat.log"
  timeout 20 kcat -b "$BOOTSTRAP" -C -q -t "$1" -o beginning -e -f '%k|%s|%h\n' 2>>"$WORK/kcat.log"
}

# expect_records NAME TOPIC COUNT NEEDLE...: the topic holds exactly COUNT records, among them
# every NEEDLE.
expect_records() {
  local name=$1 topic=$2 count=$3 records missing=""
  shift 3
  records="$(consume "$topic" "$count")"
  for needle in "$@"; do
    grep -qF -- "$needle" <<< "$records" || missing="$missing $needle"
  done
  if [ -z "$missing" ] && [ "$(grep -c . <<< "$records")" = "$count" ]; then
    pass "$name"
  else
    fail "$name: expected $count records with [$missing ] in $topic, got: $records"
  fi
}

KEY=(-H "x-api-key: $PICARD_KEY" -H "content-type: application/json")
post "POST /log without a key is 401" 401 '"status":401' "$EDGE/log" -d '{"severity":"red"}'
post "POST /log (red) answers 200 with where it landed" 200 '"topic":"captains-log"' \
  "${KEY[@]}" "$EDGE/log" -d '{"severity":"red","entry":"Borg cube sighted"}'
grep -q '"partition":[0-9]' "$BODY" && grep -q '"offset":[0-9]' "$BODY" \
  && pass "the 200 names partition and offset" || fail "no partition/offset in $(cat "$BODY")"
post "POST /log (green) answers 200" 200 '"offset"' \
  "${KEY[@]}" "$EDGE/log" -d '{"severity":"green","entry":"Tea, Earl Grey, hot"}'
post "POST /log (not JSON) is still logged" 200 '"offset"' \
  "${KEY[@]}" "$EDGE/log" -d 'static on all channels'

kcat -b "$BOOTSTRAP" -L -t captains-log 2>>"$WORK/kcat.log" | grep -q '3 partitions' \
  && pass "kcat sees captains-log with its 3 partitions" || fail "kcat -L: no captains-log with 3 partitions"
expect_records "captains-log holds the three posted entries" captains-log 3 \
  'Borg cube sighted' 'Earl Grey' 'static on all channels'
expect_records "red-alerts holds only the red entry" red-alerts 1 'Borg cube sighted'
expect_records "captains-log-dlq holds the unparseable entry, with why and where from" captains-log-dlq 1 \
  'static on all channels' 'meshwork-dead-letter-reason=invalid_json' 'meshwork-source-topic=captains-log'

# Records produced straight into the topic with kcat go through the same stream.
printf '%s\n' '{"severity":"red","entry":"Romulan warbird decloaking"}' \
  | kcat -b "$BOOTSTRAP" -P -t captains-log -k enterprise 2>>"$WORK/kcat.log" \
  && pass "kcat produces into captains-log" || fail "kcat -P into captains-log failed"
expect_records "a red record from kcat reaches red-alerts with its key" red-alerts 2 \
  'Borg cube sighted' 'enterprise|{"severity":"red","entry":"Romulan warbird decloaking"}'

curl -s "$ADMIN/metrics" > "$WORK/metrics"
grep -q 'kafka_produced_records_total{topic="captains-log",rule="captains_log"} 3' "$WORK/metrics" \
  && pass "metrics count the three produced records" || fail "metrics: $(grep kafka_produced "$WORK/metrics")"

echo "$PASSED passed, $FAILED failed"
if [ "$FAILED" -ne 0 ]; then
  echo "--- meshd.log"; cat "$WORK/meshd.log"
  echo "--- kcat.log"; cat "$WORK/kcat.log" 2>/dev/null
  exit 1
fi
