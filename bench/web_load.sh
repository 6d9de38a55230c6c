#!/usr/bin/env bash
# Web tier under load (issue #17): gunicorn, 3 sync workers, production settings, on
# PostgreSQL + Redis, driven by wrk on loopback. For each page: the maximum requests/s
# (closed loop, CONNS connections) and, for the landing page, p99 at an offered 300
# requests/s (bench/web_paced.lua). Targets: landing >= 1,000 req/s and p99 < 50 ms at
# 300 req/s; preferences and signup >= 300 req/s.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/reader_digest \
#   REDIS_URL=redis://127.0.0.1:6379/2 PORT=8150 bench/web_load.sh
#
# TREE=/path/to/another/checkout serves that checkout instead (with this venv and these
# wrk scripts), for a before/after on the same machine:
#   git worktree add /tmp/before main && TREE=/tmp/before bench/web_load.sh
#
# PAGES="preferences signup" runs only those (any of: landing landing-paced preferences
# signup archive feed; default all). DB_BEFORE=<database URL> serves TREE from that
# database instead of DATABASE_URL (its own schema and signups); VENV=<dir> runs it with
# that virtualenv (default: this checkout's .venv).
#
# Needs wrk (Debian package `wrk`: apt-get install wrk). Loads the shipped sample
# catalogue if the database has no papers; each run adds its signups (bench-*@example.com)
# to the database. Emails go to Django's dummy backend (no network). The machine is
# shared: the load average is printed next to the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "error: wrk is not installed. It is Debian's package 'wrk': apt-get install -y wrk" >&2
  exit 1
fi
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database}"
: "${REDIS_URL:?set REDIS_URL to a Redis database}"
PORT=${PORT:-8150}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-24}
WORKERS=${WORKERS:-3}

export DJANGO_SETTINGS_MODULE=config.settings.production
export SECRET_KEY=${SECRET_KEY:-bench-web-load-not-a-secret-0123456789abcdef}
export ALLOWED_HOSTS=127.0.0.1
export SITE_URL="https://127.0.0.1:${PORT}"
export EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend
export SUBSCRIPTIONS_SIGNUP_RATE_PER_IP=100000000/h SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL=100/h
export LOG_LEVEL=WARNING
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-$REDIS_URL}
PAGES=${PAGES:-landing landing-paced preferences signup archive feed}
wanted() { [[ " $PAGES " == *" $1 "* ]]; }

HERE=$(pwd)
TREE=$(cd "${TREE:-$HERE}" && pwd)
[ -z "${DB_BEFORE:-}" ] || export DATABASE_URL=$DB_BEFORE
VENV=${VENV:-$HERE/.venv}
py=$VENV/bin/python
cd "$TREE"
$py manage.py migrate --noinput -v0
$py manage.py collectstatic --noinput -v0
manage_path=$($py manage.py shell -v0 -c '
from django.conf import settings
from django.core.management import call_command
from digest.models import Paper
from subscriptions import tokens
from subscriptions.models import PaperFeedback, Subscriber
if not Paper.objects.exists():
    call_command("fetch_papers", "--file", str(settings.DIGEST_SAMPLE_DIR / "hf_daily_papers"), verbosity=0)
sub, _ = Subscriber.objects.get_or_create(
    email="bench-reader@example.com",
    defaults={"status": "active", "interests": "diffusion models, agents", "timezone": "Europe/Berlin"},
)
for p in Paper.objects.order_by("-upvotes")[:3]:
    PaperFeedback.objects.get_or_create(subscriber=sub, arxiv_id=p.arxiv_id, defaults={"kind": "like"})
print(tokens.manage_url(sub).removeprefix(settings.SITE_URL))
' | tail -n1)

"$VENV/bin/gunicorn" config.wsgi --chdir "$TREE" --workers "$WORKERS" --worker-class sync \
  --bind "127.0.0.1:${PORT}" --log-level warning >/tmp/web_load_gunicorn.$$.log 2>&1 &
gunicorn_pid=$!
trap 'kill "$gunicorn_pid" 2>/dev/null; wait "$gunicorn_pid" 2>/dev/null || true' EXIT
base="http://127.0.0.1:${PORT}"
for _ in $(seq 1 60); do
  curl -fs -o /dev/null -H "X-Forwarded-Proto: https" "$base/privacy/" && break
  sleep 0.5
done
for path in / "$manage_path"; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-Proto: https" "$base$path")
  [ "$status" = 200 ] || { echo "error: $path answers $status" >&2; exit 1; }
done

load() { cut -d' ' -f1-3 /proc/loadavg; }
summary() {  # the figures of a wrk report
  awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2}
       /Non-2xx/ {bad=$NF} /Socket errors/ {err=$0}
       END {printf "%8s req/s   p50 %8s   p99 %8s", rps, p50, p99;
            if (bad) printf "   non-2xx/3xx: %s", bad; if (err) printf "   %s", err; print ""}'
}
run() {  # label, wrk arguments...
  local label=$1; shift
  printf "%-34s" "$label"
  wrk --latency "$@" | summary
  printf "%-34s load average %s\n" "" "$(load)"
}
https=(-H "X-Forwarded-Proto: https")

echo "tree: $TREE ($(git -C "$TREE" rev-parse --short HEAD))"
echo "gunicorn: $WORKERS sync workers on $base; wrk: 2 threads, $CONNS connections, $DURATION"
echo "load average before: $(load); $(nproc) cores"
# Warm-up: every worker has imported everything and filled the caches.
wrk -t2 -c6 -d3s "${https[@]}" "$base/" >/dev/null
wrk -t2 -c6 -d3s "${https[@]}" "$base$manage_path" >/dev/null
RUN_ID=warm$$ wrk -t2 -c6 -d2s -s "$HERE/bench/web_signup.lua" "$base/" >/dev/null

if wanted landing; then
  run "landing GET / (max)" -t2 -c"$CONNS" -d"$DURATION" "${https[@]}" "$base/"
fi
if wanted landing-paced; then
  RATE=300 CONNECTIONS=30 run "landing GET / (offered 300/s)" \
    -t2 -c30 -d"$DURATION" -s "$HERE/bench/web_paced.lua" "$base/"
fi
if wanted preferences; then
  run "preferences GET (max)" -t2 -c"$CONNS" -d"$DURATION" "${https[@]}" "$base$manage_path"
fi
if wanted signup; then
  RUN_ID=max$$ run "signup POST / (max)" -t2 -c"$CONNS" -d"$DURATION" \
    -s "$HERE/bench/web_signup.lua" "$base/"
fi
if wanted archive; then
  run "archive GET /archive/ (max)" -t2 -c"$CONNS" -d"$DURATION" "${https[@]}" "$base/archive/"
fi
if wanted feed; then
  run "feed GET /feed.xml (max)" -t2 -c"$CONNS" -d"$DURATION" "${https[@]}" "$base/feed.xml"
fi
