#!/usr/bin/env bash
# The tests, with everything they need on a fresh Debian machine with the .NET 10 SDK: installs Debian's chromium
# (the dashboard's browser test), redis-server (the fleet-wide limits' tests start their own, on a free loopback port)
# and rabbitmq-server (the RabbitMQ consumer's tests start their own broker, on free loopback ports) when they are
# absent, then runs `dotnet test Bulkhead.sln` with any arguments given.
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

missing=()
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if [ -z "${REDIS_SERVER:-}" ] && ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  missing+=(redis-server)
fi
if [ -z "${RABBITMQ_SERVER:-}" ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  missing+=(rabbitmq-server)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing Debian's ${missing[*]} for the tests that need them" >&2
  install "${missing[@]}"
fi

# Here the browser, Redis and RabbitMQ are required: a missing one fails its tests instead of skipping them.
export BULKHEAD_REQUIRE_BROWSER=1
export BULKHEAD_REQUIRE_REDIS=1
export BULKHEAD_REQUIRE_RABBITMQ=1
exec dotnet test Bulkhead.sln "$@"
