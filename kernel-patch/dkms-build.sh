#!/bin/bash
# dkms-build.sh KERNELVER KERNEL_SOURCE_DIR - dkms.conf's MAKE: build the vifq
# xen-netback for one kernel from THAT kernel's own netback source, in the DKMS
# build directory (which holds this script, dkms.conf, SERIES and patches/).
#
# A pre-patched driver would be the netback of the kernel the series was made on,
# rebuilt for every later kernel of the series and shadowing its in-tree netback:
# every netback fix shipped since (an XSA) would be silently undone. So:
#   1. the kernel's Debian version comes from its headers
#      (KERNEL_SOURCE_DIR/include/generated/package.h: LINUX_PACKAGE_ID);
#   2. Debian's linux-source-<series> of exactly that version must be installed
#      (/usr/src/linux-source-<series>.tar.xz, its version from the package's
#      changelog); otherwise refuse, saying what to install;
#   3. its drivers/net/xen-netback is unpacked here and the series applied with no
#      fuzz; a patch that does not apply is refused, naming it (the series needs a
#      rebase for that kernel);
#   4. make -C KERNEL_SOURCE_DIR M=.../drivers/net/xen-netback modules.
# VIFQ_SOURCE_ROOT (default /) is the root under which linux-source was unpacked
# (usr/src/..., usr/share/doc/...), for a source kept elsewhere.
set -uo pipefail
KVER=${1:?usage: dkms-build.sh KERNELVER KERNEL_SOURCE_DIR}
KDIR=${2:?usage: dkms-build.sh KERNELVER KERNEL_SOURCE_DIR}
HERE=$(pwd)
SERIES=$(cat "$HERE/SERIES")
ROOT=${VIFQ_SOURCE_ROOT:-/}
refuse() {
    echo "vifq: REFUSED to build xen-netback for $KVER: $*" >&2
    echo "vifq: the kernel's own xen-netback stays in use." >&2
    exit 1
}
want=$(sed -n 's/^#define LINUX_PACKAGE_ID " Debian \(.*\)"$/\1/p' "$KDIR/include/generated/package.h" 2>/dev/null)
[ -n "$want" ] || refuse "cannot tell its Debian version ($KDIR/include/generated/package.h has no LINUX_PACKAGE_ID); only Debian kernels are supported"
tarball=$ROOT/usr/src/linux-source-$SERIES.tar.xz
changelog=$ROOT/usr/share/doc/linux-source-$SERIES/changelog.Debian.gz
[ -f "$tarball" ] && [ -f "$changelog" ] ||
    refuse "its source is not installed: apt-get install linux-source-$SERIES=$want, then dkms autoinstall"
have=$(zcat "$changelog" | head -1 | sed -n 's/^[^(]*(\([^)]*\)).*/\1/p')
[ "$have" = "$want" ] ||
    refuse "linux-source-$SERIES is $have, the kernel is $want: apt-get install linux-source-$SERIES=$want, then dkms autoinstall"

rm -rf "$HERE/drivers" "$HERE/include" "$HERE/Documentation"
tar -C "$HERE" --strip-components=1 -xJf "$tarball" "linux-source-$SERIES/drivers/net/xen-netback" ||
    refuse "cannot unpack drivers/net/xen-netback from $tarball"
for p in $(sed -e 's/#.*//' "$HERE/patches/series"); do
    if ! out=$(patch -p1 -F0 --no-backup-if-mismatch -d "$HERE" < "$HERE/patches/$p" 2>&1); then
        echo "$out" | grep -E '^patching file|Hunk|FAILED' >&2
        refuse "$p does not apply to its netback (linux-source-$SERIES $want): the vifq series needs a rebase for this kernel"
    fi
done
echo "vifq: xen-netback of linux-source-$SERIES $want with the vifq $SERIES series, for $KVER"
exec make -C "$KDIR" M="$HERE/drivers/net/xen-netback" CONFIG_XEN_NETDEV_BACKEND=m \
    CONFIG_DEBUG_INFO_BTF_MODULES= KCFLAGS="-I$HERE/include" modules
