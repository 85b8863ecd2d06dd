#!/usr/bin/env bash
# The README's run command: builds the UI and the app (release) and opens the app window. With no server
# given it offers the local meeting. On a machine with no display (a server, CI), it opens on a virtual one
# (Xvfb :99; look at it with `import -display :99 -window root shot.png`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ui.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: opening the app on the virtual display :99"
  scripts/setup-system.sh xvfb xauth x11-utils pulseaudio pulseaudio-utils
  eval "$(scripts/test-env.sh)"
fi
exec cargo run --release -q -p colloque-app -- "$@"
