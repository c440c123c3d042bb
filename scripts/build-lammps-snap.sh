#!/usr/bin/env bash
# Builds a serial LAMMPS with ML-SNAP (and MANYBODY + MISC for eam/adp and `fix ipi`), because the Debian `lmp`
# (bookworm, 20220106) is compiled without ML-SNAP and so cannot run the SNAP potentials that lammps-data ships.
#
# Source: the very Debian source package the binary comes from, fetched by apt's own client (`apt-get source
# --download-only`) with deb-src entries derived from this machine's apt configuration (a private copy: the system's
# apt configuration is not touched), its upstream tarball's sha256 pinned from the package's .dsc.
#
# Output: a cache outside the clone, keyed by that hash, so a machine builds it once and every later CI run (a fresh
# clone) finds it in seconds: $MLIP_VERIFY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/mlip-verify)
# /lammps-snap-<hash12>/bin/lmp, with the stable link .../lammps-snap pointing at the current build (the SNAP tests
# and the corpus script look there; src/engines/lammps.ts `snapLammpsCandidates`). MLIP_VERIFY_LMP_SNAP_DIR overrides
# the build directory. Idempotent. Needs apt-get, cmake, a C++ compiler and make (installed with apt-get when missing
# and run as root); where they cannot be had it says which and exits 0, and the SNAP tests skip with a visible reason.
# About 11 minutes on one core of this machine (7 min CPU), 5 at -j2.
set -euo pipefail

PACKAGE="lammps"
VERSION="20220106.git7586adbb6a+ds1"
DEBIAN_REVISION="2"
SHA256="65146c615ad24d8b8bc64f4e05e86226a7f1fdb45c0b5ea9416562b9f3863082"
CACHE="${MLIP_VERIFY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mlip-verify}"
DEST="${MLIP_VERIFY_LMP_SNAP_DIR:-$CACHE/lammps-snap-${SHA256:0:12}}"
LINK="$CACHE/lammps-snap"
LMP="$DEST/bin/lmp"

has_snap() { [ -x "$1" ] && "$1" -h 2>/dev/null | grep 'ML-SNAP' >/dev/null; }  # no -q: an early exit would SIGPIPE lmp under pipefail
link_cache() {
  # Point the stable name at this build (atomically: a new link renamed over the old one).
  [ -n "${MLIP_VERIFY_LMP_SNAP_DIR:-}" ] && return 0
  mkdir -p "$CACHE"
  ln -sfn "$DEST" "$LINK.tmp.$$" && mv -T "$LINK.tmp.$$" "$LINK"
}

if has_snap "$LMP"; then
  link_cache
  echo "build-lammps-snap: $LMP already has ML-SNAP (cached build of source sha256 ${SHA256:0:12}); nothing to do"
  exit 0
fi
missing=""
check_tools() {
  missing=""
  for tool in apt-get cmake make c++ sha256sum tar xz; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
}
check_tools
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "build-lammps-snap: installing build tools (missing:$missing)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y cmake make g++ xz-utils >/dev/null 2>&1 || {
    apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y cmake make g++ xz-utils >/dev/null || true
  }
  check_tools
fi
if [ -n "$missing" ]; then
  echo "build-lammps-snap: not found:$missing; cannot build LAMMPS with ML-SNAP. SNAP engine tests will be skipped." >&2
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lammps-snap-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# deb-src entries derived from the machine's own apt sources (deb822 *.sources and one-line *.list), in a private
# apt state directory, so `apt-get source` works without editing /etc/apt.
APT="$WORK/apt"
mkdir -p "$APT/lists/partial" "$APT/sources.list.d" "$APT/cache/archives/partial"
: >"$APT/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  # Keep enabled stanzas whose Types include deb; make them deb-src.
  awk 'BEGIN{RS=""; ORS="\n\n"} /(^|\n)Types:[ \t]*([^\n]*[ \t])?deb([ \t]|\n|$)/ && !/(^|\n)Enabled:[ \t]*no/ {sub(/Types:[^\n]*/, "Types: deb-src"); print}' "$f" \
    >"$APT/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$APT/sources.list"
done
APT_OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/sources.list.d" -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache=$APT/cache" -o "APT::Sandbox::User=root")
echo "build-lammps-snap: fetching the Debian source package $PACKAGE $VERSION-$DEBIAN_REVISION with apt-get source"
apt-get "${APT_OPTS[@]}" update >"$WORK/apt-update.log" 2>&1 || {
  tail -20 "$WORK/apt-update.log" >&2
  echo "build-lammps-snap: apt-get update of the deb-src entries failed (log above); SNAP engine tests will be skipped." >&2
  exit 0
}
(cd "$WORK" && apt-get "${APT_OPTS[@]}" source --download-only "$PACKAGE=$VERSION-$DEBIAN_REVISION") >"$WORK/apt-source.log" 2>&1 || {
  tail -20 "$WORK/apt-source.log" >&2
  echo "build-lammps-snap: apt-get source $PACKAGE=$VERSION-$DEBIAN_REVISION failed (log above); SNAP engine tests will be skipped." >&2
  exit 0
}
ORIG="$WORK/${PACKAGE}_${VERSION}.orig.tar.xz"
echo "$SHA256  $ORIG" | sha256sum -c --quiet - || {
  echo "build-lammps-snap: checksum mismatch for $(basename "$ORIG")" >&2
  exit 1
}
tar -xJf "$ORIG" -C "$WORK"
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
link_cache
echo "build-lammps-snap: $LMP (LAMMPS $("$LMP" -h | sed -n 's/^Large-scale Atomic[^-]*- //p' | head -1))"
