#!/bin/sh
# Installs the Debian packages given as arguments that are not installed yet.
# Needs root (or sudo) only when something is missing.
set -eu
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
# Another apt may hold the lock for a while on a fresh machine: retry.
i=0
until $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; do
  i=$((i + 1))
  [ "$i" -ge 10 ] && { echo "apt-get failed for:$missing" >&2; exit 1; }
  echo "apt-get busy, retrying in 15 s" >&2
  sleep 15
done
