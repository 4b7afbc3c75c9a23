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

stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "Installing dependencies into .venv ..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
