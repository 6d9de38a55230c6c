#!/usr/bin/env bash
# Before/after in one run: bench/build_run.py's child (build + render) and
# bench/send_smtp.py, for an older checkout and this one, alternating (A B A B A B), so
# both sides see the same machine. The older tree runs its own bench scripts and its
# own `digest` with this venv.
#
#   git worktree add /tmp/before <commit>
#   bench/ab_trees.sh /tmp/before build 10000 100000
#   bench/ab_trees.sh /tmp/before smtp 2000
set -euo pipefail
BEFORE=$1 WHAT=$2; shift 2
AFTER=$(cd "$(dirname "$0")/.." && pwd)
PY=$AFTER/.venv/bin/python
export DJANGO_SETTINGS_MODULE=config.settings.test
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/digest_runs_bench}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/11}
export BENCH_REDIS_URL=$REDIS_URL BENCH_BROKER_URL=${BENCH_BROKER_URL:-redis://127.0.0.1:6379/12}
db=${DATABASE_URL##*/}
psql "${DATABASE_URL%/*}/postgres" -qc "create database $db" 2>/dev/null || true
(cd "$AFTER" && $PY manage.py migrate -v0)

side() {  # which tree, command...: one line "<size> <side> load=<1-min load> <json>"
  local tree=$1; shift
  local name=after; [ "$tree" = "$BEFORE" ] && name=before
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  echo "$SIZE $name load=$load $(cd "$tree" && "$@" | grep '^{' | tail -1)"
}

for SIZE in "$@"; do
  if [ "$WHAT" = build ]; then
    (cd "$AFTER" && $PY -c "import sys; sys.argv = ['x']; sys.path.insert(0, '.')
import bench.build_run as b; b._django(); b.setup_data($SIZE, 300)")
  fi
  for _ in 1 2 3; do
    for tree in "$BEFORE" "$AFTER"; do
      if [ "$WHAT" = build ]; then
        side "$tree" $PY bench/build_run.py --child --render-processes 2
      else
        side "$tree" $PY bench/send_smtp.py --subscribers "$SIZE" --runs 1
      fi
    done
  done
done
