#!/usr/bin/env bash
# Install what the service (and, with --test, its test suite) needs on Debian, then the Python
# package into .venv. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
WANT_TEST=0
if [ "${1:-}" = "--test" ]; then WANT_TEST=1; fi
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

APT_RUN=(chromium fonts-wqy-zenhei openssl libnss3-tools ffmpeg)
APT_TEST=(poppler-utils softhsm2 curl zbar-tools)
pkgs=("${APT_RUN[@]}")
if [ $WANT_TEST = 1 ]; then pkgs+=("${APT_TEST[@]}"); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# Exactly the versions (and bytes: --require-hashes) of the committed lock file, then our own
# package on top without resolving anything again. `make lock` rewrites the lock files.
lock=requirements/run.lock; stamp="$VENV/.installed"
if [ $WANT_TEST = 1 ]; then lock=requirements/test.lock; stamp="$VENV/.installed-test"; fi
want="$(sha256sum "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing $lock into $VENV"
  log="$VENV/pip-install.log"
  pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
  if ! { "${pip[@]}" install -q --require-hashes -r "$lock" &&
         "${pip[@]}" install -q --no-deps --no-build-isolation -e . \
           --config-settings editable_mode=compat; } >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2; echo "setup: pip install failed (log: $log)" >&2; exit 1
  fi
  "${pip[@]}" check >>"$log" 2>&1 || { tail -20 "$log" >&2; echo "setup: inconsistent packages" >&2; exit 1; }
  "$VENV/bin/python" -c "import evidence_service, capture, storage, signing, certs, workflow"
  echo "$want" > "$stamp"
fi
