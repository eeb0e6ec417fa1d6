#!/usr/bin/env bash
# Re-resolve every Python dependency into the committed lock files (make lock).
#
#   requirements/test.lock      pyproject.toml [test] + build backend: what `make test` installs
#   requirements/run.lock       the same versions without the test tools: what `make run` installs
#   requirements/wacz-signing.lock, requirements/pywb.lock
#                               the independent tools the tests run in venvs of their own
#
# Choices made on purpose live in requirements/pins.in (with their reasons). The lock files carry
# the SHA-256 of every distribution, and setup.sh installs them with --require-hashes, so a fresh
# machine gets exactly these bytes or stops. uv does the resolving (fast, universal markers); it
# runs from a venv of its own under .cache so that nothing here depends on the developer's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tool=.cache/lock-venv
if [ ! -x "$tool/bin/uv" ] || [ "$("$tool/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  python3 -m venv --clear "$tool"
  "$tool/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
uv() { "$tool/bin/uv" "$@"; }
common=(--quiet --universal --python-version 3.11 --generate-hashes --no-header --index-url https://pypi.org/simple)
header() { printf '# %s\n# Written by `make lock` (scripts/lock.sh) from %s; do not edit by hand.\n' "$1" "$2"; }

# Each lock keeps the versions it already holds (uv reads the old file as its preferences), so
# adding a package adds only it and what it needs; `make lock UPGRADE=1` moves everything to
# the newest versions the pins allow.
compile() {  # compile OUT HEADER-TEXT SOURCES... ARGS...
  local out=$1 text=$2; shift 2
  local lock=${out%.new}
  [ -z "${UPGRADE:-}" ] && [ -f "$lock" ] && cp "$lock" "$out"
  uv pip compile "${common[@]}" ${UPGRADE:+--upgrade} -o "$out" "$@"
  { header "$text" "$sources"; cat "$out"; } > "$out.tmp" && mv "$out.tmp" "$out"
}
sources="pyproject.toml, requirements/build.in and requirements/pins.in"
compile requirements/test.lock.new \
  "Everything the tests need: the package, its [test] extra and the build backend." \
  pyproject.toml requirements/build.in --extra test -c requirements/pins.in
sources="pyproject.toml, requirements/build.in, constrained by requirements/test.lock"
compile requirements/run.lock.new \
  "What the service needs to run (the same versions as test.lock, without the test tools)." \
  pyproject.toml requirements/build.in -c requirements/test.lock.new
for tool_name in wacz-signing pywb cryptography-next; do
  sources="requirements/$tool_name.in"
  compile "requirements/$tool_name.lock.new" \
    "The $tool_name tool of the tests (tests/fixtures/tools.py), in a folder of its own." \
    "requirements/$tool_name.in"
done
for f in requirements/*.lock.new; do mv "$f" "${f%.new}"; done
echo "lock: wrote $(ls requirements/*.lock | tr '\n' ' ')"
