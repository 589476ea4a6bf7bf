#!/usr/bin/env bash
# Build (once) the podman image of a test node: Debian bookworm with systemd as PID 1,
# python3 for Ansible, the network tools the tests use and, when there is one, the real
# Aerospike server. No registry is involved: debootstrap makes a root filesystem from the
# Debian mirror apt already uses, and `podman import` turns it into an image.
#
# The Aerospike server: $AEROSPIKE_ASD when set (it must exist), else
# ../shared/aerospike-server/asd beside the repository when it exists. The image then holds it
# as /usr/bin/asd with what its package would install (an aerospike user, /opt/aerospike/smd,
# /etc/aerospike, aerospike.service); without it the image holds none of that and says so
# in its label clusterfabric.aerospike=none.
#
# The tag is a hash of the package list, of RECIPE below (bump it when the build steps change)
# and of the server binary, so an unchanged image is reused. Prints the image reference on
# stdout; `podman image inspect --format '{{ index .Labels "clusterfabric.aerospike" }}' REF`
# tells what server it carries.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
files="$here/node-image"
list="$files/packages.txt"
packages="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' | paste -sd, -)"
RECIPE=2

if [ -n "${AEROSPIKE_ASD:-}" ]; then
    asd="$AEROSPIKE_ASD"
    if [ ! -f "$asd" ] || [ ! -x "$asd" ]; then
        echo "node-image: AEROSPIKE_ASD=$asd is not an executable file" >&2
        exit 2
    fi
else
    asd="$(dirname "$here")/../shared/aerospike-server/asd"
    [ -x "$asd" ] || asd=""
fi
if [ -n "$asd" ]; then
    asd_sum="$(sha256sum "$asd" | cut -c1-64)"
else
    asd_sum=none
    echo "node-image: no Aerospike server (set AEROSPIKE_ASD or provide ../shared/aerospike-server/asd):" \
         "the image carries none, tests that need one skip" >&2
fi
tag="$( (cat "$list" "$files/aerospike.service" "$files/aerospike.sysconfig"; echo "recipe $RECIPE"; echo "asd $asd_sum") \
        | sha256sum | cut -c1-12)"
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
root="$work/root"
# Keep the image small and quiet: no apt caches, no units that cannot work in a container.
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
for unit in systemd-timesyncd.service getty.target console-getty.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

label=none
if [ -n "$asd" ]; then
    # What the server package leaves: the binary, its user, its directories (the server stops
    # at start without <work-directory>/smd and the Lua user path), its unit, not started.
    install -m 0755 "$asd" "$root/usr/bin/asd"
    chroot "$root" useradd --system --home-dir /opt/aerospike --no-create-home \
        --shell /usr/sbin/nologin aerospike
    install -d -m 0755 "$root/etc/aerospike" "$root/etc/sysconfig" "$root/var/log/aerospike" \
        "$root/opt/aerospike/smd" "$root/opt/aerospike/usr/udf/lua" "$root/opt/aerospike/sys/udf/lua"
    chroot "$root" chown -R aerospike:aerospike /opt/aerospike /var/log/aerospike /etc/aerospike
    install -m 0644 "$files/aerospike.service" "$root/lib/systemd/system/aerospike.service"
    install -m 0644 "$files/aerospike.sysconfig" "$root/etc/sysconfig/aerospike"
    label="$(chroot "$root" /usr/bin/asd --version 2>/dev/null | sed -n 's/.*build //p' | head -n1)"
    [ -n "$label" ] || { echo "node-image: $asd does not run in the image (missing libraries?)" >&2; exit 1; }
fi
tar -C "$root" -c . | podman import --quiet --change 'CMD ["/sbin/init"]' \
    --change "LABEL clusterfabric.aerospike=$label" - "$image" >/dev/null
echo "$image"
