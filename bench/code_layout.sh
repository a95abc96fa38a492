#!/usr/bin/env bash
# Regenerates runtime/layout/meshd.order: the functions meshd executes as a sidecar pair and as a
# gateway, hottest first, for the linker to place together (lld's --symbol-ordering-file; see
# runtime/build.rs). Code a process never runs then stays out of its resident set: with the
# default layout the pages a sidecar touches were spread over the whole 17 MB of text, and the
# kernel maps its file pages in 16-page blocks around each fault.
# Each role runs under valgrind's callgrind on a release build while wrk drives it; the names
# come out mangled, exactly as the linker knows them. Symbols are stable across edits of our own
# code (their hashes depend on crate metadata, not on the source), so the file goes stale only
# slowly: a stale entry is ignored, and `bash bench/code_layout.sh --check` reports how many
# entries the current binary still has.
# Run from the repository root:  bash bench/code_layout.sh   (then rebuild the release binary)
set -euo pipefail

ORDER=runtime/layout/meshd.order
MESHD="$(realpath "${MESHD_BIN:-target/release/meshd}")"
if [ "${1:-}" = "--check" ]; then
  nm --defined-only "$MESHD" | awk '{print $3}' | sort -u > /tmp/meshd-symbols.$$
  total=$(grep -vc '^#' "$ORDER")
  present=$(grep -v '^#' "$ORDER" | sort -u | comm -12 - /tmp/meshd-symbols.$$ | wc -l)
  rm -f /tmp/meshd-symbols.$$
  echo "$present of $total ordered symbols are in $MESHD"
  exit 0
fi

command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
# nginx and wrk, the release build, MESHD, WORK, PIDS and their cleanup.
source "$(dirname "$0")/bench_setup.sh"
MESHD="$(realpath "$MESHD")" # callgrind names objects by absolute path
UPSTREAM_PORT=18971 SERVER_IN=18972 CLIENT_IN=18973 CLIENT_OUT=18974 GATEWAY=18975

cat > "$WORK/upstream.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/upstream.pid;
error_log $WORK/upstream.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:$UPSTREAM_PORT; location / { default_type application/json; return 200 "{\"ok\":true}"; } }
}
CONF
nginx -c "$WORK/upstream.conf" & PIDS+=($!)

"$MESHD" ca init --trust-domain layout "$WORK/ca" >/dev/null
"$MESHD" ca issue "$WORK/ca" --service client --out "$WORK/client" >/dev/null
"$MESHD" ca issue "$WORK/ca" --service server --out "$WORK/server" >/dev/null
mkdir -p "$WORK/mesh"
cat > "$WORK/mesh/mesh.mesh" <<MESH
service server { endpoints ["127.0.0.1:$SERVER_IN"] timeout 5s }
service client { endpoints ["127.0.0.1:$CLIENT_IN"] timeout 5s }
mesh {
  default deny
  trust_domain "layout"
  mtls strict
  allow client -> [server]
}
MESH
sed "s/@PORT@/$GATEWAY/; s/@UPSTREAM@/$UPSTREAM_PORT/" runtime/benches/admission_proxy.mesh > "$WORK/gateway.mesh"
export BENCH_KEY=bench-key

profiled() { # name args...
  local name=$1; shift
  valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$WORK/$name.cg" \
    "$MESHD" "$@" --admin 127.0.0.1:0 --workers 1 --no-access-log 2>"$WORK/$name.log" &
  PIDS+=($!)
}
ready() { # url headers...
  local url=$1; shift
  for _ in $(seq 1 600); do curl -s -o /dev/null "$@" "$url" && return 0; sleep 0.1; done
  echo "not ready: $url" >&2; exit 1
}
profiled server sidecar "$WORK/mesh" --service server --app "127.0.0.1:$UPSTREAM_PORT" \
  --certs "$WORK/server" --inbound "127.0.0.1:$SERVER_IN" --outbound 127.0.0.1:0
SERVER_PID=${PIDS[-1]}
profiled client sidecar "$WORK/mesh" --service client --app 127.0.0.1:9 \
  --certs "$WORK/client" --inbound "127.0.0.1:$CLIENT_IN" --outbound "127.0.0.1:$CLIENT_OUT"
CLIENT_PID=${PIDS[-1]}
profiled gateway run "$WORK/gateway.mesh"
GATEWAY_PID=${PIDS[-1]}
ready "http://127.0.0.1:$CLIENT_OUT/" -H 'Host: server'
ready "http://127.0.0.1:$GATEWAY/" -H 'x-api-key: bench-key'
# Keep-alive and a new connection per request, on both paths.
wrk -t1 -c8 -d5s -H 'Host: server' "http://127.0.0.1:$CLIENT_OUT/" >/dev/null
wrk -t1 -c4 -d3s -H 'Host: server' -H 'Connection: close' "http://127.0.0.1:$CLIENT_OUT/" >/dev/null
wrk -t1 -c8 -d5s -H 'x-api-key: bench-key' -H 'x-stardate: 41153.7' "http://127.0.0.1:$GATEWAY/" >/dev/null
wrk -t1 -c4 -d3s -H 'x-api-key: bench-key' -H 'Connection: close' "http://127.0.0.1:$GATEWAY/" >/dev/null
for pid in "$CLIENT_PID" "$SERVER_PID" "$GATEWAY_PID"; do kill -INT "$pid"; done
for pid in "$CLIENT_PID" "$SERVER_PID" "$GATEWAY_PID"; do wait "$pid" 2>/dev/null || true; done

# Each function's self cost per role; the sidecars' functions first (hottest first), then the
# gateway's, so that a sidecar's code is one contiguous block.
python3 - "$WORK" "$MESHD" "$ORDER" <<'PY'
import re, subprocess, sys
work, binary, order = sys.argv[1:]
def costs(path):
    names, cost, current, in_meshd, skip = {}, {}, None, False, False
    objects = {}
    for line in open(path, errors="replace"):
        m = re.match(r"(c?)(ob|fn)=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if m:
            called, kind, ident, name = m.groups()
            table = objects if kind == "ob" else names
            if name:
                table[ident] = name
            if not called:
                if kind == "ob":
                    in_meshd = table[ident] == binary
                else:
                    current = table[ident] if in_meshd else None
                    if current:
                        cost.setdefault(current, 0)
            continue
        if line.startswith("calls="):
            skip = True  # the next line is the call's inclusive cost, not this function's own
            continue
        if skip:
            skip = False
            continue
        if current and line[:1].isdigit():
            parts = line.split()
            if len(parts) >= 2:
                cost[current] += int(parts[1])
    return cost
symbols = set(subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout.split())
seen, out = set(), []
for role in (("client", "server"), ("gateway",)):
    merged = {}
    for name in role:
        for fn, c in costs(f"{work}/{name}.cg").items():
            merged[fn] = merged.get(fn, 0) + c
    for fn, _ in sorted(merged.items(), key=lambda kv: -kv[1]):
        if fn in symbols and fn not in seen:
            seen.add(fn)
            out.append(fn)
with open(order, "w") as f:
    f.write("# Generated by bench/code_layout.sh: functions meshd runs, sidecar first; see runtime/build.rs.\n")
    f.write("\n".join(out) + "\n")
print(f"{len(out)} functions written to {order}")
PY
