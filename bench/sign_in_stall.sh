#!/usr/bin/env bash
# Does a client failing sign-ins slow everyone else down? Serves the app with gunicorn
# (2 sync workers, SQLite in a temporary directory), times 100 API list requests alone,
# then again while 3 clients fail sign-ins just under every lock (4 failures per
# username, 19 per address, BEHIND_PROXY=true so each picks its address), and prints both.
#   bench/sign_in_stall.sh [CODE_DIR]   CODE_DIR: a checkout to measure (default: this one)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
code="$(cd "${1:-$here}" && pwd)"
"$here/scripts/bootstrap.sh"
python="$here/.venv/bin/python"
work="$(mktemp -d "${TMPDIR:-/tmp}/signin-stall.XXXXXX")"
port="$($python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
pid=""
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$code"
export DATABASE_URL="sqlite:///$work/db.sqlite3" DEBUG=false SECRET_KEY=bench READ_DOT_ENV=false \
    ALLOWED_HOSTS=127.0.0.1 BEHIND_PROXY=true API_RATE_LIMIT_PER_MINUTE=1000000000 \
    STATIC_ROOT="$work/static"
$python manage.py migrate -v0
$python manage.py collectstatic --noinput -v0
$python manage.py shell -c "
from django.contrib.auth import get_user_model
from organizations.models import Membership, Organization
user = get_user_model().objects.create_user('victim', password='a-right-password-123')
organization = Organization.objects.create(name='Acme', slug='acme')
Membership.objects.create(user=user, organization=organization, role='owner')
"
token="$($python manage.py create_access_token --organization acme --name bench --scopes customers:read)"
"$here/.venv/bin/gunicorn" config.wsgi:application --workers 2 --bind "127.0.0.1:$port" \
    --error-logfile "$work/gunicorn.log" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 60); do
    $python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" \
        2>/dev/null && break
    sleep 0.5
done
$python "$here/bench/sign_in_stall.py" "http://127.0.0.1:$port" "$token"
