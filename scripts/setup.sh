# Shared by scripts/persona, scripts/test and scripts/bench: makes sure the machine has what
# Persona builds with, installing only what is missing. Sourced, not run.

PERSONA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PERSONA_PACKAGES=(libcurl4-openssl-dev libncursesw5-dev pkg-config)

persona_fail() {
    echo "persona: $*" >&2
    exit 1
}

# Installs the Debian packages named, skipping those already installed.
persona_need_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || persona_fail "install these packages with your package manager: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || persona_fail "run as root, or install first: sudo apt-get install ${missing[*]}"
        sudo="sudo"
    fi
    echo "persona: installing ${missing[*]}" >&2
    $sudo apt-get update -qq || persona_fail "apt-get update failed; check your network or proxy"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || persona_fail "could not install ${missing[*]}"
}

# Puts the Swift toolchain on PATH; it is not a Debian package, so it cannot be installed here.
persona_need_swift() {
    if ! command -v swift >/dev/null; then
        [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null \
        || persona_fail "Swift 6 is needed: install the toolchain from swift.org and put its usr/bin on PATH"
}

# A release build with the Swift runtime linked in statically: it starts faster and holds less
# memory. lld links it without the warnings gold prints for the toolchain's own archives.
persona_build_release() {
    (cd "$PERSONA_ROOT" && swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld "$@") >&2 \
        || persona_fail "the build failed (see above)"
}
