# Sourced by the bench/ scripts: installs nginx and wrk when missing, builds meshd (release),
# and gives each script a scratch directory, process cleanup and a readiness wait.
# Sets MESHD, WORK and PIDS (append the pid of every process started); defines need, wait_for.

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  echo "installing nginx and wrk with apt" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi
need taskset || { echo "taskset (util-linux) is required" >&2; exit 1; }

# MESHD_BIN=path/to/meshd uses that binary instead of building this tree (e.g. a debug build to
# check a script quickly; figures come from release builds).
[ -n "${MESHD_BIN:-}" ] || cargo build --release -q -p meshd
MESHD="${MESHD_BIN:-$(pwd)/target/release/meshd}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.05
  done
  echo "not ready: $1" >&2; exit 1
}
