#!/usr/bin/env bash
# The README's test command: every test, including the ones that need the headless devices
# (Xvfb for the screen, PulseAudio virtual devices for microphone and speaker).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/test-env.sh)"
echo "== ui: types and unit tests"
npm --prefix ui run --silent check
npm --prefix ui test --silent
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast -- --include-ignored 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
# The benchmarks' smoke runs (`bench media --quick`, `bench sfu --quick`) are tests of crates/cli: built with
# the workspace's features, they reuse this build instead of compiling the dependencies a second time.

# One closing line for the whole suite (cargo prints one per test binary, the last often a doc-test run of 0).
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
