#!/bin/bash
# build-module.sh [--series 6.1] [--out FILE.ko] [--w1] [--upto N] [--pristine]
#                 [--dir DIR] [--log FILE] [--dkms-tree DIR]
#
# Build xen-netback.ko with the vifq series applied, out of tree, against the
# headers of the pinned lab kernel of that series (dom0-scripts/lab/kernels.conf):
#   1. extract the pristine drivers/net/xen-netback from the pinned linux-source
#      tarball into DIR (default build/kernel-patch/<series>/tree, wiped first);
#   2. apply kernel-patch/<series>/series there (quilt if installed, else patch -p1,
#      no fuzz), or only its first N patches (--upto N), or none (--pristine);
#   3. make -C <headers> M=DIR/drivers/net/xen-netback modules (W=1 with --w1);
#   4. copy the module to --out FILE.ko.
# --log FILE keeps the compiler output (check.sh compares W=1 warnings with it);
# --dkms-tree DIR also writes a DKMS source tree: the series, dkms-build.sh and dkms.conf
# (see README.md); DKMS then builds each kernel's own netback with the series applied.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SERIES=6.1 OUTKO="" W1="" UPTO="" PRISTINE="" DIR="" LOG="" DKMS_TREE=""
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --series) SERIES=$2; shift;;
        --out) OUTKO=$2; shift;;
        --w1) W1=1;;
        --upto) UPTO=$2; shift;;
        --pristine) PRISTINE=1;;
        --dir) DIR=$2; shift;;
        --log) LOG=$2; shift;;
        --dkms-tree) DKMS_TREE=$2; shift;;
        -h|--help) usage;;
        *) echo "build-module.sh: unknown option $1" >&2; usage;;
    esac
    shift
done
SDIR=$HERE/$SERIES
[ -f "$SDIR/series" ] || { echo "build-module.sh: no series file $SDIR/series" >&2; exit 2; }

LAB_KERNEL=$SERIES
source "$ROOT/dom0-scripts/lab/kernel-env.sh"
"$ROOT/dom0-scripts/lab/check-host.sh" module
kernel_fetch

DIR=${DIR:-$VIFQ_BUILD/kernel-patch/$SERIES/tree}
rm -rf "$DIR"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
tar -C "$DIR" --strip-components=1 -xJf "$KSRC_TAR" "linux-source-$KSERIES/drivers/net/xen-netback"

mapfile -t PATCHES < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$SDIR/series" | grep -v '^$' || true)
if [ -n "$PRISTINE" ]; then
    PATCHES=()
elif [ -n "$UPTO" ]; then
    PATCHES=("${PATCHES[@]:0:$UPTO}")
fi
# not_applying PATCH OUTPUT: the series no longer fits the resolved kernel source
not_applying() {
    echo "$2" | grep -E '^patching file|Hunk|FAILED|malformed|does not apply|Reversed' | sed 's/^/    /' >&2
    echo "build-module.sh: $1 does not apply to linux-source-$KSERIES $KSRC_VER (series $SERIES);" >&2
    echo "build-module.sh: the hunks above failed. Rebase it onto that source (kernel-patch/devtree.sh," >&2
    echo "build-module.sh: kernel-patch/README.md says how) or pin the verified kernel in kernels.conf." >&2
    exit 1
}
KSRC_VER=$(sed -n 's/^linux-source-[0-9.]*=//p' <<<"${KPKGS// /$'\n'}")
if [ ${#PATCHES[@]} -gt 0 ]; then
    if command -v quilt >/dev/null; then
        ln -s "$SDIR" "$DIR/patches"
        printf '%s\n' "${PATCHES[@]}" > "$DIR/.series-applied"
        out=$(cd "$DIR" && QUILT_PATCHES=patches QUILT_SERIES=.series-applied quilt push -a --fuzz=0 2>&1) ||
            not_applying "$(cd "$DIR" && QUILT_PATCHES=patches QUILT_SERIES=.series-applied quilt next 2>/dev/null || echo "a patch")" "$out"
    else
        for p in "${PATCHES[@]}"; do
            out=$(patch -p1 -F0 --no-backup-if-mismatch -d "$DIR" < "$SDIR/$p" 2>&1) || not_applying "$p" "$out"
        done
    fi
fi

MAKEARGS=(-C "$KBUILD" M="$DIR/drivers/net/xen-netback" CONFIG_XEN_NETDEV_BACKEND=m
          CONFIG_DEBUG_INFO_BTF_MODULES=)
# The series adds include/uapi/linux/vifq.h, which the distro headers lack.
[ -d "$DIR/include" ] && MAKEARGS+=(KCFLAGS="-I$DIR/include")
[ -n "$W1" ] && MAKEARGS+=(W=1)
LOG=${LOG:-$DIR/build.log}
if ! make "${MAKEARGS[@]}" modules > "$LOG" 2>&1; then
    cat "$LOG" >&2
    echo "build-module.sh: build failed (series $SERIES, ${#PATCHES[@]} patches)" >&2
    exit 1
fi
KO=$DIR/drivers/net/xen-netback/xen-netback.ko
if [ -n "$OUTKO" ]; then
    mkdir -p "$(dirname "$OUTKO")"
    cp "$KO" "$OUTKO"
fi
if [ -n "$DKMS_TREE" ]; then
    # the series itself, not the patched driver: dkms-build.sh applies it to the netback
    # of each kernel DKMS builds for (see dkms.conf)
    rm -rf "$DKMS_TREE"
    mkdir -p "$DKMS_TREE/patches"
    DKMS_TREE=$(cd "$DKMS_TREE" && pwd)
    cp "$SDIR/series" "$DKMS_TREE/patches/series"
    for p in $(sed -e 's/#.*//' "$SDIR/series"); do cp "$SDIR/$p" "$DKMS_TREE/patches/"; done
    echo "$SERIES" > "$DKMS_TREE/SERIES"
    install -m 0755 "$HERE/dkms-build.sh" "$DKMS_TREE/dkms-build.sh"
    cp "$HERE/dkms.conf" "$DKMS_TREE/dkms.conf"
    sed -i -e "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$SERIES-vifq\"/" \
        -e "s/^BUILD_EXCLUSIVE_KERNEL=.*/BUILD_EXCLUSIVE_KERNEL=\"^${SERIES//./\\\\.}\\\\.\"/" \
        "$DKMS_TREE/dkms.conf"
fi
echo "built ${OUTKO:-$KO} ($KVER, series $SERIES, ${#PATCHES[@]} patches${W1:+, W=1})" >&2
