#!/usr/bin/env bash
# Runs BoringSSL's TLS/DTLS test runner (BoGo) against sanstls through the shim in this
# package, and prints the totals (passed / failed / unimplemented / disabled, per protocol).
#
#   bogo/run.sh                 # the whole suite
#   bogo/run.sh 'Resume-*;ALPN*' # only the tests matching these patterns
#
# Fails when a test fails that bogo/known-failures.txt does not list, and reports the listed
# ones that now pass. The runner is built from ../shared/bogo (BOGO_DIR to override) into
# target/bogo/runner once (BOGO_REBUILD=1 rebuilds it); BOGO_WORKERS sets the parallelism
# (default 2). Results: target/bogo/results.json, the runner's output: target/bogo/runner.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bogo_dir=${BOGO_DIR:-$root/../shared/bogo}
out=$root/target/bogo
mkdir -p "$out"
if [ ! -x "$out/runner" ] || [ -n "${BOGO_REBUILD:-}" ]; then
  bash "$bogo_dir/build-runner.sh" "$out/runner"
fi
cargo build --release -p sanstls-bogo --manifest-path "$root/Cargo.toml"
args=(
  -shim-path "$root/target/release/sanstls-bogo"
  -shim-config "$root/bogo/config.json"
  -num-workers "${BOGO_WORKERS:-2}"
  -allow-unimplemented
)
subset=()
if [ $# -gt 0 ]; then
  args+=(-test "$1")
  subset=(--subset)
fi
rm -f "$out/results.json"
start=$(date +%s)
# The runner exits non-zero on any failure; the verdict is summary.py's (known failures).
(cd "$out" && ./runner "${args[@]}" -json-output "$out/results.json" >"$out/runner.log" 2>&1) || true
echo "BoGo: ran in $(($(date +%s) - start)) s"
if [ ! -s "$out/results.json" ]; then
  tail -n 20 "$out/runner.log"
  echo "BoGo: the runner produced no results"
  exit 1
fi
rm -f "$out/unexpected.txt"
if python3 "$root/bogo/summary.py" "$out/results.json" "$out/runner.log" "$root/bogo/known-failures.txt" \
  "${subset[@]}" --unexpected "$out/unexpected.txt"; then
  exit 0
fi
[ -s "$out/unexpected.txt" ] || exit 1
# Some tests depend on timing (the runner's timeouts, how a flight is split over reads): on a
# loaded machine one can fail once. The unexpected failures run once more, alone; a test that
# fails again fails the run, and the first run's list stays in runner.log for a look.
echo "BoGo: running the $(wc -l <"$out/unexpected.txt") unexpected failures once more"
rm -f "$out/retry.json"
(cd "$out" && ./runner "${args[@]}" -json-output "$out/retry.json" -test "$(paste -sd';' "$out/unexpected.txt")" \
  >"$out/retry.log" 2>&1) || true
[ -s "$out/retry.json" ] || { tail -n 20 "$out/retry.log"; exit 1; }
python3 "$root/bogo/summary.py" "$out/retry.json" "$out/retry.log" "$root/bogo/known-failures.txt" --subset
