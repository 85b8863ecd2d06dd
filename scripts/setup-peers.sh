#!/usr/bin/env bash
# Installs the test peers (LiveKit's official Node SDKs, pinned by tests/peers/package-lock.json).
# Test-only: nothing here ships in the app. Re-installs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../tests/peers"
stamp=node_modules/.colloque-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then exit 0; fi
echo "Installing the test peers (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
