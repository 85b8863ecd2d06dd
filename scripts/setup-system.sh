#!/usr/bin/env bash
# Installs the Debian packages Colloque needs to build, run and test. Idempotent: installs only what is missing.
# Works as root or through sudo. Usage: scripts/setup-system.sh [build|test]
set -euo pipefail

BUILD_PKGS=(
  build-essential pkg-config cmake nasm clang libclang-dev
  libasound2-dev libpulse-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev
  libvpx-dev libopus-dev libwebrtc-audio-processing-dev
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev file
  fonts-noto-color-emoji
)
TEST_PKGS=(
  xvfb xauth x11-utils x11-apps x11-xserver-utils pulseaudio pulseaudio-utils ffmpeg vpx-tools
  chromium webkit2gtk-driver imagemagick
)

mode="${1:-test}"
case "$mode" in
  build) pkgs=("${BUILD_PKGS[@]}") ;;
  test) pkgs=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  *) pkgs=("$@") ;; # explicit package names
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The UI is built with Node.js (>= 18), and the SFU's tests drive LiveKit's official SDKs with it: take
# Debian's unless one is on PATH.
if { [ "$mode" = build ] || [ "$mode" = test ]; } && ! command -v node >/dev/null; then
  missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
