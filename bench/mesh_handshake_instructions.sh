#!/usr/bin/env bash
# Instructions per mesh mTLS handshake, full and resumed, with meshd's own inbound and outbound
# configs (ECDSA P-256 workload certificates from meshd ca, client certificates, SPIFFE ID checks
# on both sides), counted by valgrind's callgrind. The handshakes run in memory (no sockets), so
# the count is the TLS work alone and does not move with machine load. Each mode runs twice, with
# 0 and COUNT handshakes; the difference over COUNT is the per-handshake cost. Also prints the
# heap one more outbound destination config holds and its build cost.
# Run from the repository root:  bash bench/mesh_handshake_instructions.sh
set -euo pipefail

COUNT=${COUNT:-20}
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
# MESH_HANDSHAKE_BIN names an already built bench binary (skips the build).
BIN=${MESH_HANDSHAKE_BIN:-$(cargo bench -p meshd --bench mesh_handshake --no-run 2>&1 | grep -o 'target/release/deps/mesh_handshake-[0-9a-f]*' | head -1)}
[ -x "$BIN" ] || { echo "bench binary not found" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

instructions() { # mode count
  MESH_HANDSHAKE=$1 MESH_HANDSHAKE_COUNT=$2 valgrind --tool=callgrind \
    --callgrind-out-file="$WORK/$1.$2.out" "$BIN" > "$WORK/$1.$2.stdout" 2> "$WORK/$1.$2.log"
  awk '/^(summary|totals):/ {print $2; exit}' "$WORK/$1.$2.out"
}
per() { echo $(( ($2 - $1) / $3 )); }

setup=$(instructions setup 0)
full=$(instructions full "$COUNT")
primed=$(instructions resumed_setup 0)
resumed=$(instructions resumed "$COUNT")
configs=$(instructions client_config "$COUNT")

echo "mesh mTLS handshake, instructions (callgrind, $COUNT handshakes per mode, release build):"
echo "  full handshake (client + server, tickets included): $(per "$setup" "$full" "$COUNT")"
echo "  resumed handshake (client + server):                $(per "$primed" "$resumed" "$COUNT")"
echo "  one more destination config (OutboundTls):          $(per "$setup" "$configs" "$COUNT")"
grep 'heap held' "$WORK/client_config.$COUNT.stdout" | sed 's/^/  /'
