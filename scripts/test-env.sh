#!/usr/bin/env bash
# Starts the headless devices the tests need, idempotently, and prints the environment to use them:
#   eval "$(scripts/test-env.sh)"
# - Xvfb on :99 (1920x1080x24, a blue desktop) for screen capture and, later, the app window (-noreset: a server that resets
#   when its last client leaves drops connections made during the reset);
# - PulseAudio with a null sink `spk` (speaker; recorded from spk.monitor) and a null sink `micfeed`
#   remapped as the source `vmic` (microphone; fed with pacat into micfeed).
set -euo pipefail
DISPLAY_NUM="${COLLOQUE_TEST_DISPLAY:-:99}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/colloque-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

if ! DISPLAY="$DISPLAY_NUM" xdpyinfo >/dev/null 2>&1; then
  rm -f "/tmp/.X${DISPLAY_NUM#:}-lock"
  nohup Xvfb "$DISPLAY_NUM" -screen 0 1920x1080x24 -nolisten tcp -noreset >/tmp/colloque-xvfb.log 2>&1 &
  for _ in $(seq 1 50); do DISPLAY="$DISPLAY_NUM" xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
fi
DISPLAY="$DISPLAY_NUM" xdpyinfo >/dev/null 2>&1 || { echo "Xvfb did not start, see /tmp/colloque-xvfb.log" >&2; exit 1; }
# A desktop colour rather than black, so that a shared screen is a picture, not a void.
DISPLAY="$DISPLAY_NUM" xsetroot -solid '#2f4f7f' 2>/dev/null || true

if ! pactl info >/dev/null 2>&1; then
  # As root PulseAudio refuses to run per-user unless told it is fine (CI runs as root).
  pulseaudio --start --exit-idle-time=-1 --disallow-exit -n \
    --load=module-native-protocol-unix \
    --load=module-always-sink >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
fi
pactl info >/dev/null 2>&1 || { echo "PulseAudio did not start" >&2; exit 1; }
pactl list short sinks | grep -q '\bspk\b' || pactl load-module module-null-sink sink_name=spk rate=48000 >/dev/null
pactl list short sinks | grep -q '\bmicfeed\b' || pactl load-module module-null-sink sink_name=micfeed rate=48000 >/dev/null
pactl list short sources | grep -q '\bvmic\b' || pactl load-module module-remap-source source_name=vmic master=micfeed.monitor >/dev/null
pactl set-default-sink spk
pactl set-default-source vmic

echo "export DISPLAY=$DISPLAY_NUM"
echo "export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
