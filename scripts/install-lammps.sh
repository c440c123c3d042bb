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

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
if [ -z "$have_lmp" ]; then packages=(lammps lammps-data openmpi-bin); else packages=(openmpi-bin); fi
apt_install install-lammps "LAMMPS tests will be skipped." "${packages[@]}" || exit 0
command -v lmp || command -v lmp_serial || true
command -v mpirun
