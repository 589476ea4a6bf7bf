#!/usr/bin/env bash
# Install the Debian packages listed in hack/apt-packages.txt that are missing.
# A no-op (one dpkg-query call) when everything is already installed.
set -euo pipefail

list="${1:-$(dirname "$0")/apt-packages.txt}"
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
[ "${#wanted[@]}" -gt 0 ] || exit 0

missing=()
for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = installed ] || missing+=("$pkg")
done
[ "${#missing[@]}" -gt 0 ] || exit 0

echo "apt-deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
