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
# mcp-server-time from PyPI, a real MCP server for the tool tests, in a virtualenv under .build.
persona_need_mcp_time() {
    local venv="$PERSONA_ROOT/.build/mcp-venv"
    if [ ! -x "$venv/bin/mcp-server-time" ]; then
        echo "persona: installing mcp-server-time into $venv" >&2
        python3 -m venv "$venv" || persona_fail "python3 -m venv failed; install python3-venv"
        "$venv/bin/pip" install -q mcp-server-time || persona_fail "pip could not install mcp-server-time; check your network or proxy"
    fi
    export PERSONA_MCP_TIME="$venv/bin/mcp-server-time" PERSONA_REQUIRE_MCP=1
}

# Clients nobody here wrote, for the gateway's end-to-end test: the official OpenAI Python SDK,
# and the `websockets` package for the seed API's sockets.
persona_need_openai_sdk() {
    local venv="$PERSONA_ROOT/.build/client-venv"
    if ! "$venv/bin/python" -c "import openai, websockets" 2>/dev/null; then
        echo "persona: installing the openai and websockets Python packages into $venv" >&2
        python3 -m venv "$venv" || persona_fail "python3 -m venv failed; install python3-venv"
        "$venv/bin/pip" install -q openai websockets || persona_fail "pip could not install openai and websockets; check your network or proxy"
    fi
    export PERSONA_CLIENT_PYTHON="$venv/bin/python"
}

persona_need_swift() {
    if ! command -v swift >/dev/null; then
        [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null \
        || persona_fail "Swift 6 is needed: install the toolchain from swift.org and put its usr/bin on PATH"
}

# A release build with the Swift runtime linked in statically: it starts faster and holds less
# memory. lld links it without the warnings gold prints for the toolchain's own archives.
# Skipped when no source, manifest or flag changed since the last one, so that a second run starts
# at once whatever its arguments; otherwise it tells each phase with the time so far.
persona_build_release() {
    local flags=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld "$@")
    local stamp="$PERSONA_ROOT/.build/release/.persona-built-$(echo "${flags[*]}" | md5sum | cut -c1-12)"
    local sources
    sources="$(cd "$PERSONA_ROOT" && find Sources Package.swift Package.resolved -type f -printf '%p %s %T@\n' 2>/dev/null | sort | md5sum)"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sources" ] && return 0
    local log
    log="$(mktemp)"
    echo "persona: building (the first build takes 3 to 5 minutes on 2 cores; later ones only what changed)" >&2
    if (cd "$PERSONA_ROOT" && swift build "${flags[@]}" 2>&1) | tee "$log" | persona_build_phases; then
        mkdir -p "$(dirname "$stamp")"
        echo "$sources" > "$stamp"
        rm -f "$log"
    else
        grep -E 'error:|warning: .*failed' "$log" >&2 || tail -20 "$log" >&2
        rm -f "$log"
        persona_fail "the build failed (see above)"
    fi
}

# Reads `swift build`'s output and prints a line as each phase ends (it reports a module once it
# is compiled): dependencies fetched, each module compiled, linked, done; each with the minutes
# and seconds so far, and a line every 20 s while a long module compiles.
persona_build_phases() {
    local start=$SECONDS line phase module status
    declare -A seen=()
    while true; do
        IFS= read -r -t 20 line
        status=$?
        if [ $status -gt 128 ]; then
            printf 'persona: build %d:%02d  still compiling\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) >&2
            continue
        fi
        [ $status -eq 0 ] || break
        phase=""
        case "$line" in
            Fetching*|Cloning*|Computing*|"Updating "*) phase="fetching dependencies" ;;
            *"] Compiling "*)
                module="$(echo "$line" | awk '{print $3}')"
                phase="compiled $module"
                ;;
            *"] Linking "*) phase="linked $(echo "$line" | awk '{print $3}')" ;;
            *"Build complete"*|*"Build of product"*) phase="done" ;;
        esac
        [ -n "$phase" ] && [ -z "${seen[$phase]:-}" ] || continue
        seen[$phase]=1
        printf 'persona: build %d:%02d  %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$phase" >&2
    done
}
