#!/usr/bin/env bash
# Installs Chromium (Debian's `chromium` package) for the report's browser test (properties/report-browser.test.ts),
# which opens report.html headless through puppeteer-core; no browser is downloaded by npm. Idempotent: does nothing
# when a Chromium is already installed (MLIP_VERIFY_CHROMIUM, /usr/bin/chromium, chromium or chromium-browser on
# PATH), so CI can call it on every run. Needs root (or sudo) and apt; elsewhere, or when apt fails, it says why and
# exits 0, and the browser test skips with a visible reason. Waits for another apt run's lock instead of failing.
set -euo pipefail

for bin in "${MLIP_VERIFY_CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium 2>/dev/null || true)" "$(command -v chromium-browser 2>/dev/null || true)"; do
  if [ -n "$bin" ] && [ -x "$bin" ]; then
    echo "install-chromium: $bin already installed ($("$bin" --version 2>/dev/null | tail -n 1)); nothing to do"
    exit 0
  fi
done

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
apt_install install-chromium "The browser test will be skipped." chromium || exit 0
echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null | tail -n 1)"
