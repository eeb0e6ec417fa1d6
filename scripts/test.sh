#!/usr/bin/env bash
# The whole test run, as CI does it: install, start the real services, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
VENV=${VENV:-.venv}

# PostgreSQL on 127.0.0.1:5432 (the scale configuration's database).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "test: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi

# A real S3 server with object lock (Ceph RGW), for the S3 backend tests.
# The workplace's shared folder sits beside the checkout (../shared); a checkout elsewhere
# names it with SHARED_DIR.
S3=${SHARED_DIR:-../shared}/services/s3-server
if [ -z "${S3_ENDPOINT:-}" ]; then
  if [ ! -x "$S3" ]; then
    echo "test: the S3 server script $S3 is missing (set SHARED_DIR or S3_ENDPOINT)" >&2
    exit 1
  fi
  # A start can fail on what an earlier run left behind (a monitor or gateway still holding its
  # port, a half-made cluster folder): say what failed and where its log is, clear what the
  # script starts, and try again; the third failure stops the run with the log's last lines.
  s3_dir=${S3_SERVER_DIR:-/tmp/s3-server}
  s3_env=""
  for attempt in 1 2 3; do
    echo "test: starting the S3 server (attempt $attempt)"
    rc=0
    s3_env=$("$S3" start) || rc=$?
    [ "$rc" = 0 ] && break
    s3_env=""
    echo "test: the S3 server did not start (exit $rc); last lines of $s3_dir/log/setup.log:" >&2
    tail -n 15 "$s3_dir/log/setup.log" 2>/dev/null >&2 || echo "  (no setup log)" >&2
    "$S3" stop >/dev/null 2>&1 || true
    pkill -x radosgw 2>/dev/null || true; pkill -x ceph-osd 2>/dev/null || true
    pkill -x ceph-mon 2>/dev/null || true
    sleep 3
    rm -rf "$s3_dir"
  done
  if [ -z "$s3_env" ]; then
    echo "test: the S3 server failed to start three times; the tests need it (or set S3_ENDPOINT)" >&2
    exit 1
  fi
  eval "$s3_env"
  export S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_SECURE
fi

echo "test: ruff"; "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check .
echo "test: mypy"; "$VENV/bin/mypy"
echo "test: import layout"; "$VENV/bin/lint-imports" --no-cache >/dev/null || "$VENV/bin/lint-imports" --no-cache
# One pytest worker per core (pytest-xdist), each taking whole files so that a module's
# expensive fixtures (a browser, an app, a signed case) are made once; PYTEST_WORKERS=0 runs
# everything in this one process. The 30 slowest tests are listed at the end, so that a run
# growing towards CI's 20 minutes says where the time went.
echo "test: pytest"
exec "$VENV/bin/pytest" -n "${PYTEST_WORKERS:-auto}" --dist loadfile --durations=30 "$@"
