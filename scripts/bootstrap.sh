#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install the project with its test extras.
# Re-running is cheap: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv_ok() {
    [ -x .venv/bin/python ] &&
        .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null
}

if ! venv_ok; then
    python="$(scripts/find-python.sh)"
    echo "Creating .venv with $python ($("$python" --version 2>&1))"
    rm -rf .venv
    if ! "$python" -m venv .venv; then
        echo "error: '$python -m venv' failed. On Debian/Ubuntu: apt-get install python3-venv" >&2
        exit 1
    fi
fi

# Receipt PDFs (WeasyPrint) lay text out with Pango, a system library: install Debian's
# packages when we can (as root, with apt-get), else say so and go on (only the PDFs need it).
if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Pango for the receipt PDFs (libpango-1.0-0 libpangoft2-1.0-0) ..."
        { apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
                >/dev/null; } ||
            echo "warning: could not install Pango; receipt PDFs will fail until it is installed." >&2
    else
        echo "warning: Pango is missing (apt-get install libpango-1.0-0 libpangoft2-1.0-0);" \
            "receipt PDFs need it." >&2
    fi
fi

stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "Installing dependencies into .venv ..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
