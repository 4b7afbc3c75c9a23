#!/usr/bin/env bash
# Set everything up, load the demo data and serve the dashboard at http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export DEBUG="${DEBUG:-true}"
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
echo
echo "Dashboard: http://127.0.0.1:8000/   Staff admin: http://127.0.0.1:8000/admin/"
exec .venv/bin/python manage.py runserver "${DEMO_ADDRESS:-127.0.0.1:8000}"
