#!/usr/bin/env bash
# Installs ASE (the Debian/Ubuntu package python3-ase, ASE 3.22 on Debian 12, with numpy and scipy) for the ASE
# engines of issue 13 (`--engine ase:<module>:<callable>`, properties/engine-ase*.test.ts). Idempotent: does nothing
# when a Python that mlip-verify would use ($MLIP_VERIFY_PYTHON, python3, /usr/bin/python3) already imports ASE, so CI
# can call it on every run. Needs root (or sudo) and apt; elsewhere it says why and exits 0, and the ASE tests skip
# with a visible message.
set -euo pipefail

for py in ${MLIP_VERIFY_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import ase, numpy' >/dev/null 2>&1; then
    echo "install-ase: $(command -v "$py") already imports ASE $("$py" -c 'import ase; print(ase.__version__)'); nothing to do"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-ase: apt-get not available; install ASE yourself (pip install ase) and pass --python. ASE tests will be skipped." >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-ase: not root and no sudo; cannot install python3-ase. ASE tests will be skipped." >&2
    exit 0
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# A held dpkg lock (another apt run) is waited for, not fought: apt-get's own lock timeout.
if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 update || ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y python3-ase; then
  echo "install-ase: apt-get could not install python3-ase. ASE tests will be skipped." >&2
  exit 0
fi
/usr/bin/python3 -c 'import ase; print("install-ase: /usr/bin/python3 imports ASE", ase.__version__)'
