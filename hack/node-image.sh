#!/usr/bin/env bash
# Build (once) the podman image of a test node: Debian bookworm with systemd as PID 1,
# python3 for Ansible, and the network tools the tests use. No registry is involved:
# debootstrap makes a root filesystem from the Debian mirror apt already uses, and
# `podman import` turns it into an image. The tag is a hash of the package list and of
# RECIPE below (bump it when the build steps change), so an unchanged image is reused.
# Prints the image reference on stdout.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
list="$here/node-image-packages.txt"
packages="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' | paste -sd, -)"
RECIPE=1
tag="$( (cat "$list"; echo "recipe $RECIPE") | sha256sum | cut -c1-12)"
image="localhost/clusterfabric-node:$tag"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"

if podman image exists "$image"; then
    echo "$image"
    exit 0
fi

mirror="$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*debian\)[[:space:]]*$/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
mirror="${mirror:-http://deb.debian.org/debian}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "node-image: debootstrap bookworm from $mirror into $work (about a minute)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >"$work/log" 2>&1 || {
    tail -n 30 "$work/log" >&2
    exit 1
}
# Keep the image small and quiet: no apt caches, no units that cannot work in a container.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
for unit in systemd-timesyncd.service getty.target console-getty.service; do
    ln -sf /dev/null "$work/root/etc/systemd/system/$unit"
done
tar -C "$work/root" -c . | podman import --quiet --change 'CMD ["/sbin/init"]' - "$image" >/dev/null
echo "$image"
