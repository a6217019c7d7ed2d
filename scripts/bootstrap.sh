#!/usr/bin/env bash
# Set up Lanterne on a fresh Debian or Ubuntu machine, then run the demo or the tests.
#   bash scripts/bootstrap.sh demo   # install what is missing, then `lanterne demo`
#   bash scripts/bootstrap.sh test   # install what is missing (and test tools), then the test suite
# Safe to run again: it only installs what is not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-demo}"
shift || true
case "$what" in demo|test|setup) ;; *) echo "usage: bash scripts/bootstrap.sh demo|test|setup" >&2; exit 2 ;; esac

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=()
if ! [ -x /usr/bin/chromium ] && [ -z "${LANTERNE_CHROMIUM:-}" ]; then packages+=(chromium); fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then packages+=(python3-venv); fi
if [ "${#packages[@]}" -gt 0 ]; then
  echo "== installing ${packages[*]} (apt)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Lanterne needs Python 3.11 or newer; this machine has $(python3 --version)" >&2
  exit 1
fi

hash="$(sha256sum pyproject.toml | cut -c1-16)"
test_stamp=".venv/.installed-$hash-test"
if [ "$what" = test ]; then stamp="$test_stamp"; extras=".[test,ray]"; else stamp=".venv/.installed-$hash-base"; extras="."; fi
if [ ! -x .venv/bin/python ]; then
  echo "== creating the virtual environment .venv"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ] && [ ! -f "$test_stamp" ]; then
  echo "== installing Lanterne and its pinned dependencies into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$extras"
  touch "$stamp"
fi

# DuckDuckGo's autoconsent rules (from npm, pinned and integrity-checked) answer cookie banners.
.venv/bin/lanterne consent install >/dev/null

case "$what" in
  demo) exec .venv/bin/lanterne demo "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
  setup) echo "== ready: .venv/bin/lanterne --help" ;;
esac
