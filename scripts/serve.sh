#!/usr/bin/env bash
# Serve the app for production with gunicorn (`make serve` runs this):
#   scripts/serve.sh [extra gunicorn options]
# Configuration comes from the environment, as everywhere (README, "Configuration"). It
# refuses to start while a migration is unapplied (run `manage.py migrate` as a deploy step,
# or set MIGRATE=true to apply them here), collects the static files, then execs gunicorn
# so that signals reach it: TERM finishes the requests in flight and stops, HUP reloads.
#
#   BIND=0.0.0.0:8000     where to listen (default 127.0.0.1:$PORT, PORT default 8000);
#                         unix:/run/customers/web.sock for a socket behind a proxy
#   WEB_CONCURRENCY=N     worker processes (default: 2 x CPU cores + 1)
#   GUNICORN_THREADS=N    threads per worker (default 1)
#   GUNICORN_TIMEOUT=S    seconds a request may take before its worker is restarted (30)
#   APP_PYTHON=path       the Python with the app installed (default .venv/bin/python,
#                         else python3 on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

python="${APP_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
if ! "$python" -c 'import gunicorn' 2>/dev/null; then
    echo "error: gunicorn is not installed for $python; install the app: pip install ." >&2
    exit 1
fi

if [ "${MIGRATE:-false}" = true ]; then
    "$python" manage.py migrate --noinput
elif ! "$python" manage.py migrate --check >/dev/null; then
    echo "error: the database has unapplied migrations; run: $python manage.py migrate" >&2
    echo "       (or start with MIGRATE=true)" >&2
    exit 1
fi
"$python" manage.py collectstatic --noinput --verbosity 0

cores="$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
workers="${WEB_CONCURRENCY:-$((2 * cores + 1))}"
bind="${BIND:-127.0.0.1:${PORT:-8000}}"
echo "Serving on $bind with $workers worker(s) x ${GUNICORN_THREADS:-1} thread(s)" >&2

# No gunicorn access log: the app writes one JSON line per request itself.
exec "$python" -m gunicorn config.wsgi:application \
    --bind "$bind" \
    --workers "$workers" \
    --threads "${GUNICORN_THREADS:-1}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --graceful-timeout 30 \
    --error-logfile - \
    "$@"
