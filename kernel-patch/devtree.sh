#!/bin/bash
# devtree.sh init|export [--series 6.1] [--dir DIR] - work on the series as git commits.
#   init     DIR (default build/kernel-patch/<series>/git) becomes a git repository of the
#            pristine drivers/net/xen-netback of the pinned linux-source, with one commit
#            per patch of kernel-patch/<series>/series (git am). Edit, commit, rebase there.
#   export   write DIR's commits after the pristine one back as kernel-patch/<series>/*.patch
#            (with 0000-cover-letter.patch from kernel-patch/cover-letter.txt)
#            (git format-patch, [PATCH net-next n/m]), the series file, and
#            kernel-patch/vifq.yaml from the tree's Documentation/netlink/specs/vifq.yaml.
# Regenerate the netlink code of a commit that changes the spec with ynl-gen.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMD=${1:-}; shift || true
SERIES=6.1 DIR=""
while [ $# -gt 0 ]; do
    case $1 in
        --series) SERIES=$2; shift;;
        --dir) DIR=$2; shift;;
        *) echo "devtree.sh: unknown option $1" >&2; exit 2;;
    esac
    shift
done
LAB_KERNEL=$SERIES
source "$ROOT/dom0-scripts/lab/kernel-env.sh"
DIR=${DIR:-$VIFQ_BUILD/kernel-patch/$SERIES/git}
SDIR=$HERE/$SERIES
G=(git -C "$DIR" -c user.name="${GIT_AUTHOR_NAME:-vifq}" -c user.email="${GIT_AUTHOR_EMAIL:-vifq@localhost}")
case $CMD in
init)
    kernel_fetch
    rm -rf "$DIR"; mkdir -p "$DIR"
    tar -C "$DIR" --strip-components=1 -xJf "$KSRC_TAR" "linux-source-$KSERIES/drivers/net/xen-netback"
    printf '%s\n' '*.o' '*.ko' '*.mod' '*.mod.c' '.*.cmd' modules.order Module.symvers '.tmp*' '*.log' > "$DIR/.gitignore"
    "${G[@]}" init -q
    "${G[@]}" add -A
    "${G[@]}" commit -qm "xen-netback: pristine linux-source-$KSERIES $KPKGVER"
    while read -r p; do
        "${G[@]}" am -q "$SDIR/$p"
    done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$SDIR/series" | grep -v '^$')
    "${G[@]}" log --oneline
    ;;
export)
    base=$("${G[@]}" rev-list --max-parents=0 HEAD)
    rm -f "$SDIR"/*.patch
    mkdir -p "$SDIR"
    "${G[@]}" format-patch -q --no-signature --zero-commit --subject-prefix="PATCH net-next" \
        -n --cover-letter -o "$SDIR" "$base..HEAD"
    # the cover letter's subject and text are kept in kernel-patch/cover-letter.txt
    python3 - "$SDIR/0000-cover-letter.patch" "$HERE/cover-letter.txt" <<'PY'
import sys
path, text = sys.argv[1], open(sys.argv[2]).read().rstrip('\n').split('\n', 1)
letter = open(path).read()
letter = letter.replace('*** SUBJECT HERE ***', text[0]).replace('*** BLURB HERE ***', text[1].lstrip('\n'))
open(path, 'w').write(letter)
PY
    { echo "# vifq: xen-netback patches for Debian linux-source-$KSERIES ($KPKGVER)."
      echo "# Apply in this order with quilt (QUILT_PATCHES=kernel-patch/$SERIES) or patch -p1."
      echo "# 0000-cover-letter.patch says what the series is and how it was tested."
      (cd "$SDIR" && ls -- *.patch | grep -v '^0000-cover-letter\.patch$'); } > "$SDIR/series"
    [ -f "$DIR/Documentation/netlink/specs/vifq.yaml" ] &&
        cp "$DIR/Documentation/netlink/specs/vifq.yaml" "$HERE/vifq.yaml"
    cat "$SDIR/series"
    ;;
*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2;;
esac
