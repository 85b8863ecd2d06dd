#!/usr/bin/env bash
# Type-checks the whole workspace for Windows (x86_64-pc-windows-gnu) from Linux: every crate and every
# `cfg(windows)` path compiles. Nothing is linked, so libvpx's Windows library is not needed: its headers
# and version stand in for it (the build script only emits link flags).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-system.sh gcc-mingw-w64-x86-64
rustup target add x86_64-pc-windows-gnu >/dev/null
stub="$(mktemp -d)"
trap 'rm -rf "$stub"' EXIT
VPX_VERSION="$(pkg-config --modversion vpx)" VPX_LIB_DIR="$stub" VPX_INCLUDE_DIR=/usr/include VPX_STATIC=1 \
  cargo check --target x86_64-pc-windows-gnu --workspace
