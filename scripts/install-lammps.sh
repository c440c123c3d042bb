#!/usr/bin/env bash
# Installs LAMMPS (the Debian/Ubuntu package, which has `fix ipi` and ships the potentials under
# /usr/share/lammps/potentials) for the external-engine round trip of issue 8, and mpirun (openmpi-bin) for LAMMPS on
# several MPI ranks (issue 12). Idempotent: does nothing when an `lmp` binary and mpirun are already on PATH, so CI can
# call it on every run. Needs root (or sudo) and apt; elsewhere it says why and
# exits 0, and the LAMMPS tests skip with a visible message.
set -euo pipefail

# mpirun runs LAMMPS on several MPI ranks (`--lmp 'mpirun -np 2 lmp'`); Debian's lammps depends on it
# (mpi-default-bin = openmpi-bin), but check it on its own in case lmp came from elsewhere.
have_lmp=""
for bin in lmp lmp_serial lmp_stable; do
  if command -v "$bin" >/dev/null 2>&1; then have_lmp="$(command -v "$bin")"; break; fi
done
if [ -n "$have_lmp" ] && command -v mpirun >/dev/null 2>&1; then
  echo "install-lammps: $have_lmp and $(command -v mpirun) already installed; nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-lammps: apt-get not available; install LAMMPS (with fix ipi) yourself. LAMMPS tests will be skipped." >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-lammps: not root and no sudo; cannot install. LAMMPS tests will be skipped." >&2
    exit 0
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
if [ -z "$have_lmp" ]; then
  $SUDO apt-get install -y lammps lammps-data openmpi-bin
else
  $SUDO apt-get install -y openmpi-bin
fi
command -v lmp || command -v lmp_serial || true
command -v mpirun
