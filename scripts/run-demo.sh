#!/usr/bin/env bash
# The README's run command, until the desktop app exists: captures the screen and writes an H.264 clip.
# With no display (a server, CI), it starts a virtual one (Xvfb) with a clock and a logo on it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DISPLAY:-}" ]; then
  eval "$(scripts/test-env.sh)"
  pgrep -x xclock >/dev/null || (xclock -update 1 -geometry 400x400+100+100 >/dev/null 2>&1 &)
  pgrep -x xlogo >/dev/null || (xlogo -geometry 300x300+700+200 >/dev/null 2>&1 &)
  sleep 0.5
fi
mkdir -p out
cargo run --release -q -p colloque-cli -- demo --source screen --seconds "${SECONDS_TO_RECORD:-5}" --out out/colloque-demo.h264 "$@"
echo "Clip written to out/colloque-demo.h264 (play it with: ffplay out/colloque-demo.h264)"
