#!/usr/bin/env bash
# Installs the UI's npm packages (pinned by ui/package-lock.json; again only when the lock file changed) and
# builds the UI into ui/dist, which the app embeds at compile time.
set -euo pipefail
cd "$(dirname "$0")/../ui"
stamp=node_modules/.colloque-lock
if ! [ -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "Installing the UI's packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build -- --logLevel warn
