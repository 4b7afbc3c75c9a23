#!/usr/bin/env bash
# Print the path of a Python >= 3.12, looking on PATH and in pyenv; fail clearly if none.
set -u

is_new_enough() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
candidates+=(python3.14 python3.13 python3.12 python3 python)
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
command -v pyenv >/dev/null 2>&1 && pyenv_root="$(pyenv root 2>/dev/null || echo "$pyenv_root")"
# pyenv's shims only answer for the selected version, so look in its versions directly.
for dir in $(ls -d "$pyenv_root"/versions/3.* 2>/dev/null | sort -rV); do
    candidates+=("$dir/bin/python3")
done
for dir in /usr/local/bin /usr/bin /opt/homebrew/bin; do
    for bin in $(ls "$dir"/python3.1[2-9] 2>/dev/null | sort -rV); do candidates+=("$bin"); done
done

for candidate in "${candidates[@]}"; do
    path="$(command -v "$candidate" 2>/dev/null)" || continue
    if is_new_enough "$path"; then
        "$path" -c 'import sys; print(sys.executable)'
        exit 0
    fi
done

cat >&2 <<'MSG'
error: this project needs Python 3.12 or newer, and none was found.
Looked at $PYTHON, python3.14/3.13/3.12, python3 and python on PATH, and pyenv's versions.
Install one (for example `apt-get install python3.12` or `pyenv install 3.12`), or point
PYTHON at it: PYTHON=/path/to/python3.12 make test
MSG
exit 1
