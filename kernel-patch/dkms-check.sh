#!/bin/bash
# dkms-check.sh [--series 6.1] OUTDIR - install the vifq module with the real dkms
# tool the way kernel-patch/README.md tells an operator to, against the pinned lab
# kernel of the series, without touching this machine's /lib/modules or DKMS state:
#   1. build-module.sh --dkms-tree writes the DKMS source tree;
#   2. in a private mount namespace, the kernel's module tree (a hard-linked copy
#      under OUTDIR) is bind-mounted on /lib/modules and a tmpfs on
#      /usr/share/dkms, where the version override file of the README goes;
#   3. dkms add, build, install (--dkmstree/--sourcetree under OUTDIR,
#      --kernelsourcedir = the pinned headers), then modinfo must resolve
#      xen-netback to updates/dkms/ with the kernel's vermagic and the patched
#      driver's parameter tx_acct_entries; dkms uninstall must give the stock
#      module back.
# Creates /usr/lib/modules and /usr/share/dkms (empty) if missing: mount points.
# Prints "ok ..." / "FAIL ..." lines; exits 1 on the first failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SERIES=6.1
[ "${1:-}" = "--series" ] && { SERIES=$2; shift 2; }
[ $# -eq 1 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
command -v dkms >/dev/null || { echo "FAIL dkms: the dkms tool is not installed (apt-get install dkms; make deps does)"; exit 1; }
LAB_KERNEL=$SERIES
source "$ROOT/dom0-scripts/lab/kernel-env.sh"
kernel_fetch
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
PKG=xen-netback-vifq VER=$SERIES-vifq
rm -rf "$OUT/dkms" "$OUT/src" "$OUT/modules" "$OUT/tree"
mkdir -p "$OUT/dkms" "$OUT/src" "$OUT/modules"
"$HERE/build-module.sh" --series "$SERIES" --dir "$OUT/tree" --dkms-tree "$OUT/src/$PKG-$VER" \
    --out "$OUT/built.ko" > "$OUT/build-module.log" 2>&1 ||
    { echo "FAIL dkms: build-module.sh --dkms-tree (see $OUT/build-module.log)"; exit 1; }
cp -al "$KROOT/lib/modules/$KVER" "$OUT/modules/$KVER"
mkdir -p /usr/lib/modules /usr/share/dkms

unshare --mount --propagation private bash -s -- "$OUT" "$PKG" "$VER" "$KVER" "$KBUILD" <<'EOF'
set -euo pipefail
OUT=$1 PKG=$2 VER=$3 KVER=$4 KBUILD=$5
mount --bind "$OUT/modules" /usr/lib/modules
mount -t tmpfs vifq-dkms-check /usr/share/dkms
mkdir /usr/share/dkms/modules_to_force_install
echo "${PKG}_version-override" > "/usr/share/dkms/modules_to_force_install/$PKG"
D=(--dkmstree "$OUT/dkms" --sourcetree "$OUT/src")
fail() { echo "FAIL dkms: $*"; exit 1; }
dkms add "${D[@]}" -m "$PKG" -v "$VER" > "$OUT/dkms-add.log" 2>&1 || fail "dkms add (see $OUT/dkms-add.log)"
dkms build "${D[@]}" -m "$PKG" -v "$VER" -k "$KVER" --kernelsourcedir "$KBUILD" > "$OUT/dkms-build.log" 2>&1 ||
    fail "dkms build (see $OUT/dkms-build.log)"
dkms install "${D[@]}" -m "$PKG" -v "$VER" -k "$KVER" --kernelsourcedir "$KBUILD" > "$OUT/dkms-install.log" 2>&1 ||
    fail "dkms install (see $OUT/dkms-install.log)"
file=$(modinfo -k "$KVER" -n xen-netback)
case $file in */updates/dkms/xen-netback.ko*) ;; *) fail "after dkms install modinfo resolves xen-netback to $file";; esac
vermagic=$(modinfo -k "$KVER" -F vermagic xen-netback)
[ "${vermagic%% *}" = "$KVER" ] || fail "installed module has vermagic '$vermagic', not $KVER"
modinfo -k "$KVER" -F parm xen-netback | grep -q '^tx_acct_entries:' ||
    fail "the installed module has no tx_acct_entries parameter: not the vifq driver"
status=$(dkms status "${D[@]}" -m "$PKG" -v "$VER" -k "$KVER")
case $status in *": installed"*) ;; *) fail "dkms status: $status";; esac
echo "ok   dkms add/build/install: xen-netback resolves to ${file#/lib/modules/"$KVER"/} (vermagic $KVER, vifq parameters)"
dkms uninstall "${D[@]}" -m "$PKG" -v "$VER" -k "$KVER" > "$OUT/dkms-uninstall.log" 2>&1 ||
    fail "dkms uninstall (see $OUT/dkms-uninstall.log)"
file=$(modinfo -k "$KVER" -n xen-netback)
case $file in */kernel/drivers/net/xen-netback/xen-netback.ko*) ;; *) fail "after dkms uninstall modinfo resolves xen-netback to $file";; esac
echo "ok   dkms uninstall: xen-netback resolves to the stock ${file#/lib/modules/"$KVER"/} again"
EOF
