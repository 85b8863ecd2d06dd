#!/usr/bin/env bash
# Installs tauri-driver (the WebDriver bridge the app's end-to-end tests drive the window through; test-only),
# pinned to the 2.x line (3.x is alpha).
set -euo pipefail
VERSION=2.1.0
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
if [ -x "$HOME/.cargo/bin/tauri-driver" ] && cargo install --list | grep -q "^tauri-driver v$VERSION:"; then exit 0; fi
echo "Installing tauri-driver $VERSION"
cargo install --locked --quiet tauri-driver --version "$VERSION"
