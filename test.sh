#!/usr/bin/env bash
# The tests, with everything they need on a fresh Debian machine with the .NET 10 SDK: installs Debian's chromium
# (the dashboard's browser test) when it is absent, then runs `dotnet test Bulkhead.sln` with any arguments given.
# See DEVELOPERS.md.
set -euo pipefail
cd "$(dirname "$0")"

install() {
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "test.sh: $* is missing and this user cannot install it (sudo apt-get install $*); the tests that need it will fail." >&2
    return 0
  fi
}

if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing Debian's chromium for the browser test" >&2
  install chromium
fi

# Here the browser is required: a missing one fails its test instead of skipping it.
export BULKHEAD_REQUIRE_BROWSER=1
exec dotnet test Bulkhead.sln "$@"
