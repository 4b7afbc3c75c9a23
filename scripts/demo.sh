#!/usr/bin/env bash
# Set everything up, load the demo data and serve the dashboard at http://127.0.0.1:8000,
# with the background jobs (webhook delivery, imports, renewals, emails) running beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export DEBUG="${DEBUG:-true}"
# The demo may send webhooks to a receiver on this machine; production must not.
export WEBHOOKS_ALLOW_PRIVATE_URLS="${WEBHOOKS_ALLOW_PRIVATE_URLS:-true}"
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo

.venv/bin/python manage.py run_jobs &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT

echo
echo "Dashboard: http://127.0.0.1:8000/   Staff admin: http://127.0.0.1:8000/admin/"
echo "API docs:  http://127.0.0.1:8000/v1/docs   (background jobs running, pid $worker)"
.venv/bin/python manage.py runserver "${DEMO_ADDRESS:-127.0.0.1:8000}"
