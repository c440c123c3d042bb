# Shared by the scripts/install-*.sh scripts: install Debian packages with apt-get, or say why not and let the caller
# exit 0 so the tests that need the package skip with a visible reason. Source it, then call
#   apt_install <script name> "<what is skipped>" <package>...
# It returns 0 when the packages were installed and 1 (after printing why) when this machine cannot install them:
# no apt-get, not root and no passwordless sudo, or apt-get failing. A dpkg lock held by another apt run
# (unattended upgrades, a parallel install) is waited for up to 10 minutes, not fought.

APT_LOCK_OPTS=(-o DPkg::Lock::Timeout=600)

apt_install() {
  local name="$1" skipped="$2"
  shift 2
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: apt-get not available; install $* yourself. $skipped" >&2
    return 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      echo "$name: not root and no passwordless sudo; cannot install $*. $skipped" >&2
      return 1
    fi
  fi
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_LOCK_OPTS[@]}" update; then
    echo "$name: apt-get update failed; trying the install with the current package lists" >&2
  fi
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "$@"; then
    echo "$name: apt-get install $* failed (see above). $skipped" >&2
    return 1
  fi
}
