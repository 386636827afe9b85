# scripts/apt.sh: installing Debian packages, for ensure-deps.sh and
# ensure-fuzz-deps.sh. Sourced, not run.

# apt_install TAG PACKAGE...: installs the packages with apt-get, as root or
# through sudo (left in SUDO for later installs); on failure prints a line
# that starts with TAG and exits 1.
apt_install() {
    tag=$1
    shift
    echo "$tag: installing: $*"
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "$tag: missing: $*; install them (apt-get install $*) and re-run" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$tag: no apt-get here; install: $*" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq "$@" >/dev/null || {
        echo "$tag: apt-get install $* failed" >&2
        exit 1
    }
}
