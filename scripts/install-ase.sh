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

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
apt_install install-ase "ASE tests will be skipped (or pip install ase and pass --python)." python3-ase || exit 0
/usr/bin/python3 -c 'import ase; print("install-ase: /usr/bin/python3 imports ASE", ase.__version__)'
