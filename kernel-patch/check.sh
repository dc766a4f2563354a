#!/bin/bash
# check.sh [--series 6.1] [--quick] - the checks a netdev maintainer runs, on the
# vifq series of one kernel:
#   checkpatch   scripts/checkpatch.pl --strict (of that kernel) on every patch;
#                FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is ignored:
#                the new files are covered by the driver's MAINTAINERS entry or
#                are the netlink spec/UAPI, and MAINTAINERS is not in our tree;
#                over-long lines are allowed in ynl-gen-c.py's output (vifq_nl.c) only
#   bisect       every prefix of the series builds (skipped with --quick)
#   w1           W=1 build of the whole series has no warning that the pristine
#                driver's W=1 build does not have (compared without line numbers)
#   ynl          the generated netlink files in the series match the spec, and
#                kernel-patch/vifq.yaml is the spec of the series
#   dkms         the real dkms tool adds, builds, installs (over the stock
#                module) and uninstalls the series' module (dkms-check.sh; a
#                private mount namespace, the host's module tree is untouched)
# Prints one line per check and "N passed, N failed"; exits 1 if any failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SERIES=6.1 QUICK=""
while [ $# -gt 0 ]; do
    case $1 in
        --series) SERIES=$2; shift;;
        --quick) QUICK=1;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
        *) echo "check.sh: unknown option $1" >&2; exit 2;;
    esac
    shift
done
SDIR=$HERE/$SERIES
LAB_KERNEL=$SERIES
source "$ROOT/dom0-scripts/lab/kernel-env.sh" || exit 2
kernel_fetch || exit 2
OUT=$VIFQ_BUILD/kernel-patch/$SERIES/check
rm -rf "$OUT"; mkdir -p "$OUT"
pass=0 fail=0
ok()  { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

mapfile -t PATCHES < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$SDIR/series" | grep -v '^$')

# checkpatch.pl and its data files, from the same linux-source
CP=$OUT/linux-source-$KSERIES/scripts/checkpatch.pl
tar -C "$OUT" -xJf "$KSRC_TAR" "linux-source-$KSERIES/scripts/checkpatch.pl" \
    "linux-source-$KSERIES/scripts/spelling.txt" \
    "linux-source-$KSERIES/scripts/const_structs.checkpatch"
# generated_long_lines_only LOG: every finding is a LONG_LINE in the YNL-generated
# vifq_nl.c (ynl-gen-c.py does not wrap its policy lines; we do not edit its output)
generated_long_lines_only() {
    local findings
    findings=$(grep -cE '^(ERROR|WARNING|CHECK)' "$1")
    [ "$findings" -gt 0 ] &&
        [ "$(grep -A1 -E '^(ERROR|WARNING|CHECK)' "$1" | grep -cE '^#[0-9]+: FILE: drivers/net/xen-netback/vifq_nl\.c:')" = "$findings" ] &&
        [ "$(grep -cE '^WARNING: line length of [0-9]+ exceeds' "$1")" = "$findings" ]
}
for p in "${PATCHES[@]}"; do
    if perl "$CP" --strict --no-tree --ignore FILE_PATH_CHANGES --color=never \
            "$SDIR/$p" > "$OUT/checkpatch-$p.log" 2>&1; then
        ok "checkpatch --strict $p"
    elif generated_long_lines_only "$OUT/checkpatch-$p.log"; then
        ok "checkpatch --strict $p (long lines in ynl-gen-c.py's vifq_nl.c only)"
    else
        bad "checkpatch --strict $p"
        grep -E -A4 '^(ERROR|WARNING|CHECK)' "$OUT/checkpatch-$p.log" | sed 's/^/     /'
    fi
done

build() { # build LOG ARGS...
    local log=$1; shift
    "$HERE/build-module.sh" --series "$SERIES" --dir "$OUT/tree" --log "$log" "$@" \
        > "$OUT/build-module.out" 2>&1
}
if [ -z "$QUICK" ]; then
    for ((n = 1; n < ${#PATCHES[@]}; n++)); do
        if build "$OUT/build-upto$n.log" --upto "$n"; then
            ok "builds with patches 1-$n"
        else
            bad "builds with patches 1-$n (see $OUT/build-upto$n.log)"
        fi
    done
fi

# W=1 warnings: file and message, without line and column numbers
warnings() { grep -E 'warning:' "$1" | sed -E 's|^.*/xen-netback/||; s|:[0-9]+:[0-9]+:|:|' | sort -u; }
if ! build "$OUT/w1-pristine.log" --pristine --w1; then
    bad "W=1 build of the pristine driver (see $OUT/w1-pristine.log)"
elif ! build "$OUT/w1-series.log" --w1 --out "$OUT/xen-netback.ko"; then
    bad "W=1 build of the series (see $OUT/w1-series.log)"
else
    new=$(comm -13 <(warnings "$OUT/w1-pristine.log") <(warnings "$OUT/w1-series.log"))
    if [ -z "$new" ]; then
        ok "W=1 build: no new warnings ($(warnings "$OUT/w1-pristine.log" | wc -l) in the pristine driver)"
    else
        bad "W=1 build: new warnings"
        printf '     %s\n' "$new"
    fi
fi

# ynl: the generated files of the series tree ($OUT/tree, whole series applied)
if [ -f "$OUT/tree/Documentation/netlink/specs/vifq.yaml" ]; then
    if cmp -s "$HERE/vifq.yaml" "$OUT/tree/Documentation/netlink/specs/vifq.yaml"; then
        ok "kernel-patch/vifq.yaml is the spec of the series"
    else
        bad "kernel-patch/vifq.yaml differs from the series' Documentation/netlink/specs/vifq.yaml"
    fi
    if "$HERE/ynl-gen.sh" --series "$SERIES" --check "$OUT/tree/Documentation/netlink/specs/vifq.yaml" "$OUT/tree" \
            > "$OUT/ynl.log" 2>&1; then
        ok "ynl-gen-c.py output matches the series"
    else
        bad "ynl-gen-c.py output differs from the series"
        sed 's/^/     /' "$OUT/ynl.log"
    fi
fi

# dkms: two checks (install, uninstall), or one failure
if "$HERE/dkms-check.sh" --series "$SERIES" "$OUT/dkms" > "$OUT/dkms.log" 2>&1; then
    while read -r line; do ok "${line#ok   }"; done < <(grep '^ok ' "$OUT/dkms.log")
else
    bad "dkms (see $OUT/dkms.log)"
    sed 's/^/     /' "$OUT/dkms.log" | tail -5
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
