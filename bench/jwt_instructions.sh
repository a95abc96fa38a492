#!/usr/bin/env bash
# Instructions per JWT admission (header + signature + claims) for HS256, RS256 and ES256,
# counted by valgrind's callgrind: the bench binary admits N tokens and exits; the difference
# between N=COUNT and N=0 divided by COUNT is the cost of one. Load-independent, unlike
# criterion's wall time. Needs valgrind. Run from the repository root: bash bench/jwt_instructions.sh
set -euo pipefail
COUNT=${COUNT:-200}
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
BIN=$(cargo bench -p meshd --bench jwt_verify --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*jwt_verify[^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "could not build the jwt_verify bench" >&2; exit 1; }
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
instructions() { # alg count
  JWT_VERIFY_ALG=$1 JWT_VERIFY_COUNT=$2 valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BIN" >/dev/null 2>"$WORK/err"
  sed -n 's/^==[0-9]*== Collected : //p' "$WORK/err"
}
printf '%-6s %16s\n' alg instructions/verify
for alg in HS256 RS256 ES256; do
  base=$(instructions "$alg" 0)
  loaded=$(instructions "$alg" "$COUNT")
  printf '%-6s %16d\n' "$alg" $(( (loaded - base) / COUNT ))
done
