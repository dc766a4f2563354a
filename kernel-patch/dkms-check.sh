#!/bin/bash
# dkms-check.sh [--series 6.1] OUTDIR - install the vifq module with the real dkms
# tool the way kernel-patch/README.md tells an operator to, against the pinned lab
# kernel of the series, without touching this machine's /lib/modules or DKMS state:
#   1. build-module.sh --dkms-tree writes the DKMS source tree;
#   2. in a private mount namespace, the kernel's module tree (a hard-linked copy
#      under OUTDIR) is bind-mounted on /lib/modules and a tmpfs on
#      /usr/share/dkms, where the version override file of the README goes;
#   3. dkms add; dkms build with no linux-source of the kernel's version must be
#      refused (dkms-build.sh: the pre-patched netback of another kernel must never
#      shadow the kernel's own); with the kernel's linux-source (VIFQ_SOURCE_ROOT =
#      the unpacked lab kernel) dkms build, install (--dkmstree/--sourcetree under
#      OUTDIR, --kernelsourcedir = the lab kernel's headers), then modinfo must resolve
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
[ $# -eq 1 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
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

unshare --mount --propagation private bash -s -- "$OUT" "$PKG" "$VER" "$KVER" "$KBUILD" "$KROOT" <<'EOF'
set -euo pipefail
OUT=$1 PKG=$2 VER=$3 KVER=$4 KBUILD=$5 KROOT=$6
mount --bind "$OUT/modules" /usr/lib/modules
mount -t tmpfs vifq-dkms-check /usr/share/dkms
mkdir /usr/share/dkms/modules_to_force_install
echo "${PKG}_version-override" > "/usr/share/dkms/modules_to_force_install/$PKG"
D=(--dkmstree "$OUT/dkms" --sourcetree "$OUT/src")
fail() { echo "FAIL dkms: $*"; exit 1; }
dkms add "${D[@]}" -m "$PKG" -v "$VER" > "$OUT/dkms-add.log" 2>&1 || fail "dkms add (see $OUT/dkms-add.log)"
# no linux-source of the kernel's version: refused, the stock module stays
mkdir -p "$OUT/no-source"
if VIFQ_SOURCE_ROOT=$OUT/no-source dkms build "${D[@]}" -m "$PKG" -v "$VER" -k "$KVER" --kernelsourcedir "$KBUILD" \
        > "$OUT/dkms-build-refused.log" 2>&1; then
    fail "dkms build without the kernel's linux-source succeeded (see $OUT/dkms-build-refused.log)"
fi
logs() { find "$OUT/dkms/$PKG/$VER" -name make.log -exec cat {} + > "$OUT/make-logs.txt" 2>/dev/null || true; }
logs_have() { logs >/dev/null; grep -q -- "$1" "$OUT/make-logs.txt"; }
logs_have "REFUSED to build xen-netback for $KVER: its source is not installed: apt-get install linux-source-" ||
    fail "dkms build without the kernel's linux-source failed, but not with dkms-build.sh's refusal (see $OUT/dkms-build-refused.log)"
file=$(modinfo -k "$KVER" -n xen-netback)
case $file in */kernel/drivers/net/xen-netback/xen-netback.ko*) ;; *) fail "after the refused build modinfo resolves xen-netback to $file";; esac
echo "ok   dkms build refused without the kernel's own linux-source: \"$(grep -o 'REFUSED.*' "$OUT/make-logs.txt" | head -1)\""
VIFQ_SOURCE_ROOT=$KROOT dkms build "${D[@]}" -m "$PKG" -v "$VER" -k "$KVER" --kernelsourcedir "$KBUILD" > "$OUT/dkms-build.log" 2>&1 ||
    fail "dkms build (see $OUT/dkms-build.log)"
logs_have "vifq: xen-netback of linux-source-.* with the vifq .* series, for $KVER" ||
    fail "dkms build did not build from the kernel's own linux-source (see $OUT/dkms-build.log)"
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
