#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (test tools may not
# download browsers of their own here). Installs it when running as root with apt.
set -euo pipefail
for bin in chromium chromium-browser; do
    command -v "$bin" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium from the system packages for the browser tests ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "warning: Chromium not found and cannot be installed here; browser tests will be skipped" \
     "(in CI they fail instead). Install Debian's 'chromium' package to run them." >&2
