#!/bin/bash
# ynl-gen.sh [--series 6.1|6.12] [--check] SPEC TREE - generate the vifq netlink code from SPEC
# (Documentation/netlink/specs/vifq.yaml, netdev YAML format) with the kernel's
# own tools/net/ynl/ynl-gen-c.py, into the kernel tree TREE:
#   include/uapi/linux/vifq.h                   --mode uapi   --header
#   drivers/net/xen-netback/vifq_nl.h, .c       --mode kernel --header/--source
#   Documentation/netlink/specs/vifq.yaml       (a copy of SPEC)
# then carry the multicast groups' flags over (ynl-mcgrp-flags.py), and, for
# --series 6.1 (the default), adapt the kernel tables to 6.1's genl
# API (6.1 has no split ops: ynl-compat-6.1.py); 6.12 takes them as generated.
# --check writes nothing and fails if TREE's files differ from what SPEC generates.
#
# ynl-gen-c.py comes from Debian's linux-source-6.12 (the 6.12 lab kernel as
# dom0-scripts/lab/kernel-env.sh resolves it; 6.1 has no YNL), unpacked once into
# build/ynl/ (needs python3-yaml and python3-jsonschema).
# ynl-gen.sh --fetch-tools only unpacks it (the lab tests run its cli.py in dom0).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
YNL_ROOT=${YNL_ROOT:-$ROOT/build/ynl/linux-source-6.12}
fetch_tools() {
    [ ! -x "$YNL_ROOT/tools/net/ynl/ynl-gen-c.py" ] || return 0
    local src_tar
    src_tar=$( LAB_KERNEL=6.12; set +u; source "$ROOT/dom0-scripts/lab/kernel-env.sh" >&2 && kernel_fetch >&2 &&
               echo "$KSRC_TAR" ) || exit 1
    echo "[ynl] tools/net/ynl from $src_tar" >&2
    mkdir -p "$(dirname "$YNL_ROOT")"
    tar -C "$(dirname "$YNL_ROOT")" -xJf "$src_tar" \
        linux-source-6.12/tools/net/ynl linux-source-6.12/Documentation/netlink \
        linux-source-6.12/MAINTAINERS
}
if [ "${1:-}" = --fetch-tools ]; then fetch_tools; exit 0; fi
CHECK="" SERIES=6.1
while [ $# -gt 2 ]; do
    case $1 in
        --check) CHECK=1;;
        --series) SERIES=$2; shift;;
        *) break;;
    esac
    shift
done
[ $# -eq 2 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
case $SERIES in 6.1|6.12) ;; *) echo "ynl-gen.sh: unknown series $SERIES (6.1 or 6.12)" >&2; exit 2;; esac
SPEC=$(readlink -f "$1")
TREE=$(readlink -f "$2")

fetch_tools

# ynl-gen-c.py names the spec by its path below the kernel root that holds it
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SPECS=$YNL_ROOT/Documentation/netlink/specs
cp "$SPEC" "$SPECS/vifq.yaml"
GEN=(python3 "$YNL_ROOT/tools/net/ynl/ynl-gen-c.py" --spec "$SPECS/vifq.yaml")
mkdir -p "$WORK/include/uapi/linux" "$WORK/drivers/net/xen-netback" \
         "$WORK/Documentation/netlink/specs"
"${GEN[@]}" --mode uapi --header -o "$WORK/include/uapi/linux/vifq.h"
"${GEN[@]}" --mode kernel --header -o "$WORK/drivers/net/xen-netback/vifq_nl.h"
"${GEN[@]}" --mode kernel --source -o "$WORK/drivers/net/xen-netback/vifq_nl.c"
rm -f "$SPECS/vifq.yaml"
cp "$SPEC" "$WORK/Documentation/netlink/specs/vifq.yaml"
# the spec's multicast group flags (admin-perm), which ynl-gen-c.py drops
python3 "$HERE/ynl-mcgrp-flags.py" "$SPEC" "$WORK/drivers/net/xen-netback/vifq_nl.c"
if [ "$SERIES" = 6.1 ]; then
    python3 "$HERE/ynl-compat-6.1.py" "$WORK/drivers/net/xen-netback/vifq_nl.h" \
            "$WORK/drivers/net/xen-netback/vifq_nl.c"
fi

rc=0
for f in include/uapi/linux/vifq.h drivers/net/xen-netback/vifq_nl.h \
         drivers/net/xen-netback/vifq_nl.c Documentation/netlink/specs/vifq.yaml; do
    if [ -n "$CHECK" ]; then
        cmp -s "$WORK/$f" "$TREE/$f" || { echo "ynl-gen: $TREE/$f differs from $SPEC" >&2; rc=1; }
    else
        mkdir -p "$(dirname "$TREE/$f")"
        cp "$WORK/$f" "$TREE/$f"
    fi
done
exit $rc
