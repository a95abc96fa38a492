#!/usr/bin/env bash
# The starfleet example's Kafka side through a real meshd and its embedded broker, checked with
# curl and kcat the way the README tells a newcomer to watch the topics.
#
#   bash runtime/tests/e2e/kafka_kcat.sh [path/to/meshd]
#
# The example is copied to a temporary directory; EDGE_PORT, ADMIN_PORT and UPSTREAM_PORTS (five
# ports) move it off its usual ports when set. meshd runs without --brokers, so it starts the
# embedded broker and logs its bootstrap address; kcat reads that address from the log.
# Prints one line per check and "N passed, M failed"; exits 1 on a failure.
set -uo pipefail

source "$(dirname "$0")/serve_example.sh"
serve_example "${1:-}" --no-access-log

# The one line a user looks for: "… bootstrap 127.0.0.1:PORT …".
BOOTSTRAP="$(bootstrap_servers)" || exit 1
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
  "${KEY[@]}" "$EDGE/log" -d '{"stardate":41153.7,"severity":"red","entry":"Borg cube sighted"}'
grep -q '"partition":[0-9]' "$BODY" && grep -q '"offset":[0-9]' "$BODY" \
  && pass "the 200 names partition and offset" || fail "no partition/offset in $(cat "$BODY")"
post "POST /log (green) answers 200" 200 '"offset"' \
  "${KEY[@]}" "$EDGE/log" -d '{"stardate":41153.8,"severity":"green","entry":"Tea, Earl Grey, hot"}'
post "POST /log with a severity the schema does not know is 422 with its pointer" 422 '"pointer":"/severity"' \
  "${KEY[@]}" "$EDGE/log" -d '{"stardate":41153.9,"severity":"plaid","entry":"Tribbles"}'
grep -q '"keyword":"enum"' "$BODY" && pass "the 422 names the schema keyword" || fail "no keyword in $(cat "$BODY")"
post "POST /log (not JSON) is 400 and never logged" 400 '"status":400' \
  "${KEY[@]}" "$EDGE/log" -d 'static on all channels'

kcat -b "$BOOTSTRAP" -L -t captains-log 2>>"$WORK/kcat.log" | grep -q '3 partitions' \
  && pass "kcat sees captains-log with its 3 partitions" || fail "kcat -L: no captains-log with 3 partitions"
expect_records "captains-log holds only the two accepted entries" captains-log 2 \
  'Borg cube sighted' 'Earl Grey'
expect_records "red-alerts holds only the red entry" red-alerts 1 'Borg cube sighted'

# Records produced straight into the topic with kcat go through the same stream, which checks
# them against the topic's schema.
printf '%s\n' '{"stardate":41154.1,"severity":"red","entry":"Romulan warbird decloaking"}' \
  | kcat -b "$BOOTSTRAP" -P -t captains-log -k enterprise 2>>"$WORK/kcat.log" \
  && pass "kcat produces into captains-log" || fail "kcat -P into captains-log failed"
expect_records "a red record from kcat reaches red-alerts with its key" red-alerts 2 \
  'Borg cube sighted' 'enterprise|{"stardate":41154.1,"severity":"red","entry":"Romulan warbird decloaking"}'
printf '%s\n' '{"severity":"red","entry":"no stardate"}' 'static on all channels' \
  | kcat -b "$BOOTSTRAP" -P -t captains-log -k voyager 2>>"$WORK/kcat.log" \
  && pass "kcat writes two bad records around the gateway" || fail "kcat -P of bad records failed"
expect_records "captains-log-dlq holds both, with why and where from" captains-log-dlq 2 \
  'meshwork-dead-letter-reason=schema_violation' 'meshwork-dead-letter-reason=invalid_json' \
  'static on all channels' 'meshwork-source-topic=captains-log'

curl -s "$ADMIN/metrics" > "$WORK/metrics"
grep -q 'kafka_produced_records_total{topic="captains-log",rule="captains_log"} 2' "$WORK/metrics" \
  && pass "metrics count the two produced records" || fail "metrics: $(grep kafka_produced "$WORK/metrics")"
grep -q 'kafka_schema_rejections_total{topic="captains-log",rule="captains_log"} 2' "$WORK/metrics" \
  && pass "metrics count the two refused posts" || fail "metrics: $(grep kafka_schema "$WORK/metrics")"
grep -q 'kafka_schema_rejections_total{topic="captains-log",rule="red_alerts"} 2' "$WORK/metrics" \
  && pass "metrics count the two records the stream refused" || fail "metrics: $(grep kafka_schema "$WORK/metrics")"

echo "$PASSED passed, $FAILED failed"
if [ "$FAILED" -ne 0 ]; then
  echo "--- meshd.log"; cat "$WORK/meshd.log"
  echo "--- kcat.log"; cat "$WORK/kcat.log" 2>/dev/null
  exit 1
fi
