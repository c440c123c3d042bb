#!/usr/bin/env bash
# Builds a serial LAMMPS with ML-SNAP (and MANYBODY + MISC for eam/adp and `fix ipi`), because the Debian `lmp`
# (bookworm, 20220106) is compiled without ML-SNAP and so cannot run the SNAP potentials that lammps-data ships.
# Source: the very Debian source package the binary comes from (deb.debian.org pool, the apt registry), its sha256
# pinned from the package's .dsc. Output: $MLIP_VERIFY_LMP_SNAP_DIR/bin/lmp (default .cache/lammps-snap in the repo,
# git-ignored); the SNAP engine tests look there. Idempotent: does nothing when that binary exists and runs `pair_style
# snap`. Needs curl, cmake, a C++ compiler and make (installed with apt-get when missing and run as root); where they
# cannot be had it says which and exits 0, and the SNAP tests skip with a visible reason. About 11 minutes on one core
# of this machine (7 min CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="20220106.git7586adbb6a+ds1"
SHA256="65146c615ad24d8b8bc64f4e05e86226a7f1fdb45c0b5ea9416562b9f3863082"
URL="http://deb.debian.org/debian/pool/main/l/lammps/lammps_${VERSION}.orig.tar.xz"
DEST="${MLIP_VERIFY_LMP_SNAP_DIR:-$PWD/.cache/lammps-snap}"
LMP="$DEST/bin/lmp"

has_snap() { [ -x "$1" ] && "$1" -h 2>/dev/null | grep 'ML-SNAP' >/dev/null; }  # no -q: an early exit would SIGPIPE lmp under pipefail

if has_snap "$LMP"; then
  echo "build-lammps-snap: $LMP already has ML-SNAP; nothing to do"
  exit 0
fi
missing=""
for tool in curl cmake make c++ sha256sum tar xz; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "build-lammps-snap: installing build tools (missing:$missing)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y curl cmake make g++ xz-utils >/dev/null 2>&1 || {
    apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y curl cmake make g++ xz-utils >/dev/null || true
  }
  missing=""
  for tool in curl cmake make c++ sha256sum tar xz; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
fi
if [ -n "$missing" ]; then
  echo "build-lammps-snap: not found:$missing; cannot build LAMMPS with ML-SNAP. SNAP engine tests will be skipped." >&2
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lammps-snap-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "build-lammps-snap: downloading $URL"
curl -fsS -o "$WORK/src.tar.xz" "$URL"
echo "$SHA256  $WORK/src.tar.xz" | sha256sum -c --quiet - || {
  echo "build-lammps-snap: checksum mismatch for $URL" >&2
  exit 1
}
tar -xJf "$WORK/src.tar.xz" -C "$WORK"
SRC="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'lammps-*' | head -1)"

# Serial (MPI stubs), no OpenMP, no FFT or JPEG/PNG: the smallest binary that runs eam, adp, snap and fix ipi.
cmake -S "$SRC/cmake" -B "$WORK/build" \
  -D CMAKE_BUILD_TYPE=Release \
  -D CMAKE_INSTALL_PREFIX="$DEST" \
  -D BUILD_MPI=off -D CMAKE_DISABLE_FIND_PACKAGE_MPI=on -D BUILD_OMP=off -D BUILD_SHARED_LIBS=off -D BUILD_TOOLS=off -D BUILD_DOC=off \
  -D WITH_JPEG=off -D WITH_PNG=off -D WITH_FFMPEG=off -D WITH_GZIP=off -D FFT=KISS \
  -D PKG_ML-SNAP=on -D PKG_MANYBODY=on -D PKG_MISC=on \
  -D LAMMPS_EXCEPTIONS=on >"$WORK/cmake.log" 2>&1 || {
  tail -40 "$WORK/cmake.log" >&2
  echo "build-lammps-snap: cmake failed (log above)" >&2
  exit 1
}
JOBS="${MLIP_VERIFY_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
echo "build-lammps-snap: compiling with $JOBS jobs"
cmake --build "$WORK/build" -j "$JOBS" >"$WORK/build.log" 2>&1 || {
  tail -40 "$WORK/build.log" >&2
  echo "build-lammps-snap: build failed (log above)" >&2
  exit 1
}
mkdir -p "$DEST/bin"
cp "$WORK/build/lmp" "$LMP.tmp" && mv "$LMP.tmp" "$LMP"
has_snap "$LMP" || {
  echo "build-lammps-snap: built $LMP but it does not list ML-SNAP" >&2
  exit 1
}
echo "build-lammps-snap: $LMP (LAMMPS $("$LMP" -h | sed -n 's/^Large-scale Atomic[^-]*- //p' | head -1))"
