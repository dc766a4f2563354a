#!/bin/bash
# build-netback.sh --out FILE.ko [--patch FILE]... - build xen-netback.ko out of
# tree from the pinned linux-source of the lab kernel (LAB_KERNEL, kernels.conf),
# optionally with patches applied (-p1, relative to the kernel tree root), so the
# lab can load it instead of the kernel's own (run-lab.sh --netback FILE.ko).
# The vifq series itself is built by kernel-patch/build-module.sh.
set -euo pipefail
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
source "$LAB_DIR/kernel-env.sh"
OUTKO="" PATCHES=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUTKO=$2; shift;;
        --patch) PATCHES+=("$(readlink -f "$2")"); shift;;
        *) echo "build-netback.sh: unknown option $1" >&2; exit 2;;
    esac
    shift
done
[ -n "$OUTKO" ] || { echo "build-netback.sh: --out FILE.ko is required" >&2; exit 2; }
"$LAB_DIR/check-host.sh" module
kernel_fetch
B=$(mktemp -d "$VIFQ_BUILD/netback.XXXXXX")
trap 'rm -rf "$B"' EXIT
tar -C "$B" --strip-components=1 -xJf "$KSRC_TAR" "linux-source-$KSERIES/drivers/net/xen-netback"
for p in "${PATCHES[@]}"; do patch -s -d "$B" -p1 < "$p"; done
# CONFIG_DEBUG_INFO_BTF_MODULES= : no BTF (pahole is not needed)
make -s -C "$KBUILD" M="$B/drivers/net/xen-netback" CONFIG_XEN_NETDEV_BACKEND=m \
    CONFIG_DEBUG_INFO_BTF_MODULES= modules >&2
mkdir -p "$(dirname "$OUTKO")"
cp "$B/drivers/net/xen-netback/xen-netback.ko" "$OUTKO"
echo "built $OUTKO ($KVER${PATCHES:+, patches: ${PATCHES[*]##*/}})" >&2
