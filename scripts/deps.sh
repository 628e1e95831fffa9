# Sourced by the scripts in this directory: installs missing Debian packages.
#
#   ensure_packages pkg...   installs whichever of pkg... are not installed yet,
#                            with apt-get (as root, or through sudo).

ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing: ${missing[*]}" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: missing packages (${missing[*]}) and not root; install them and retry" >&2
            return 1
        fi
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Packages needed to build and test.
BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config libcmocka-dev python3 util-linux procps curl valgrind libssl-dev openssl libnghttp2-dev python3-h2 nghttp2-client libzstd-dev zlib1g-dev python3-zstandard zstd libcrypt-dev)

# Packages for the operations tests: HAProxy in front of two instances under
# wrk load, the man page rendered by man, strace (test_tls counts a keep-alive
# HTTPS request's epoll_ctl calls) and htpasswd (test_auth's bcrypt user).
OPS_PACKAGES=(haproxy wrk man-db groff-base strace apache2-utils)

# Packages for the real-browser test (tests/integration/test_browser.py, label
# browser) and scripts/screenshots.
BROWSER_PACKAGES=(chromium fonts-dejavu-core)
