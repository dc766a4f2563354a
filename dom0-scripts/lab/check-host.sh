#!/bin/bash
# check-host.sh images|run|module - are the Debian packages this step needs
# installed? Prints what is missing and how to install it; exit 1 if anything is.
set -uo pipefail
case ${1:-run} in
    images) need="xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils busybox-static cpio kmod iproute2 gcc libc6-dev tcpdump ethtool coreutils util-linux nodejs xz-utils zstd" ;;
    run)    need="qemu-system-x86" ;;
    module) need="gcc make xz-utils libelf-dev" ;;
    *) echo "usage: check-host.sh images|run|module" >&2; exit 2 ;;
esac
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "lab: missing Debian packages:$missing" >&2
    echo "lab: run 'make deps' (as root) or: apt-get install --no-install-recommends$missing" >&2
    exit 1
fi
