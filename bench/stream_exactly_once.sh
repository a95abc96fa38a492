#!/usr/bin/env bash
# The cost of exactly_once: the same topic → topic stream (half the records republished, with a
# dead letter) at least once and in Kafka transactions, against a broker that does the
# transactions' work (commit markers, the last stable offset, transactional offsets): noida-db's
# Kafka service in its own process. librdkafka's mock cluster, the embedded broker, answers the
# transaction requests without that work, so its exactly_once figure flatters (BENCHMARKS.md).
#
# Both scenarios run in one `cargo bench -p meshd --bench stream_throughput` process, one after
# the other against the same broker, each on topics of its own; the figure is records read per
# second from the first record read to the last match acknowledged.
#
# Run from the repository root:  bash bench/stream_exactly_once.sh
# Settings: RECORDS (default 500000), PROFILE (cargo profile, default bench = release; `dev`
#           checks the script quickly, its figures are not for BENCHMARKS.md).
set -euo pipefail

RECORDS=${RECORDS:-500000}
PROFILE=${PROFILE:-bench}

python3 -c "import noida_db" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check noida-db==0.2.3
# The binary itself, not the Python wrapper (whose child would outlive a kill of the wrapper).
NOIDA=$(python3 -c "from importlib.resources import files; print(files('noida_db').joinpath('noida-db'))")
[ -x "$NOIDA" ] || chmod 755 "$NOIDA"

WORK="$(mktemp -d)"
NOIDA_PID=""
cleanup() {
  if [ -n "$NOIDA_PID" ]; then kill "$NOIDA_PID" 2>/dev/null || true; wait "$NOIDA_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

: >"$WORK/noida.out"
"$NOIDA" start --data-dir "$WORK/noida" --host 127.0.0.1 --only kafka --kafka-port 0 \
  >"$WORK/noida.out" 2>/dev/null &
NOIDA_PID=$!
BROKERS=""
for _ in $(seq 1 600); do
  BROKERS=$(awk '$1 == "kafka" { print $2 }' "$WORK/noida.out" || true)
  [ -n "$BROKERS" ] && break
  kill -0 "$NOIDA_PID" 2>/dev/null || { echo "noida-db exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$BROKERS" ] || { echo "noida-db printed no Kafka address" >&2; exit 1; }
echo "broker: noida-db $("$NOIDA" version 2>/dev/null | head -1) at $BROKERS; $RECORDS records; profile $PROFILE" >&2

MESHD_BENCH_BROKERS="$BROKERS" MESHD_BENCH_RECORDS="$RECORDS" \
  cargo bench -q -p meshd --profile "$PROFILE" --bench stream_throughput -- stream stream-exactly-once
