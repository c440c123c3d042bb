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

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not available; install Chromium yourself (or set MLIP_VERIFY_CHROMIUM). The browser test will be skipped." >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-chromium: not root and no passwordless sudo; cannot install. The browser test will be skipped." >&2
    exit 0
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt run (unattended upgrades, a parallel install) holds the lock: wait up to 10 minutes for it.
APT_OPTS=(-o DPkg::Lock::Timeout=600)
if ! $SUDO apt-get "${APT_OPTS[@]}" update; then
  echo "install-chromium: apt-get update failed; trying the install with the current package lists" >&2
fi
if ! $SUDO apt-get "${APT_OPTS[@]}" install -y --no-install-recommends chromium; then
  echo "install-chromium: apt-get install chromium failed (see above). The browser test will be skipped." >&2
  exit 0
fi
echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null | tail -n 1)"
