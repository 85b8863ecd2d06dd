#!/usr/bin/env bash
# The README's test command: every test, including the ones that need the headless devices
# (Xvfb for the screen, PulseAudio virtual devices for microphone and speaker).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/test-env.sh)"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace --no-fail-fast -- --include-ignored
echo "== bench media --quick (smoke test in the dev profile: the benchmark runs; its figures mean nothing here)"
cargo run -q -p colloque-cli -- bench media --quick
