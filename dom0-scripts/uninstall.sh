#!/bin/bash
# uninstall.sh - remove what dom0-scripts/install.sh installed, exactly: the paths listed in
# PREFIX/install-manifest, nothing else (a file of yours beside them stays, and so does a
# directory that holds one).
#
#   dom0-scripts/uninstall.sh [--prefix /opt/vifq] [--destdir DIR] [--dry-run] [--no-systemctl]
#
# Without DESTDIR, with systemd running and without --no-systemctl it first runs
# `systemctl disable --now vifqd.service` (what vifqd does with the limits on stop follows the
# host setting /local/domain/0/vifq/on-stop), and `systemctl daemon-reload` at the end.
# --dry-run prints what would be removed and changes nothing. DESTDIR in the environment works too.
set -euo pipefail
PREFIX=/opt/vifq
DESTDIR=${DESTDIR:-}
DRY=0
SYSTEMCTL=1

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "uninstall.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) DESTDIR=${1#*=}; shift ;;
        --dry-run|-n) DRY=1; shift ;;
        --no-systemctl) SYSTEMCTL=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "uninstall.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done
case $PREFIX in /*) ;; *) die "--prefix must be absolute: $PREFIX" ;; esac
PREFIX=${PREFIX%/}
if [ -n "$DESTDIR" ]; then
    case $DESTDIR in /*) ;; *) DESTDIR=$(pwd)/$DESTDIR ;; esac
    DESTDIR=${DESTDIR%/}
fi
D=$DESTDIR
MANIFEST=$PREFIX/install-manifest
[ -f "$D$MANIFEST" ] || die "no install manifest at $D$MANIFEST: nothing installed there by install.sh (give the --prefix/--destdir it was installed with)"

say() { echo "[uninstall] $*"; }
run() { say "$*"; [ $DRY = 1 ] || "$@"; }

# every entry is "d|f|l ABSOLUTE-PATH"; refuse anything else before touching a file
files=() dirs=()
while IFS= read -r line; do
    case $line in
        '#'*|'') continue ;;
    esac
    kind=${line%% *} path=${line#* }
    case $path in
        /*) ;;
        *) die "manifest line is not an absolute path: $line" ;;
    esac
    case /$path/ in */../*|*/./*) die "manifest path has . or .. components: $line" ;; esac
    case $kind in
        f|l) files+=("$path") ;;
        d) dirs+=("$path") ;;
        *) die "manifest line of unknown kind: $line" ;;
    esac
done < "$D$MANIFEST"

if [ -z "$D" ] && [ $SYSTEMCTL = 1 ] && [ -d /run/systemd/system ]; then
    run systemctl disable --now vifqd.service || say "systemctl disable failed; removing the files anyway"
fi

# files and links (one rm for all of them: a node_modules tree is thousands of files)
present=()
for f in "${files[@]}"; do
    if [ -L "$D$f" ]; then present+=("$D$f")
    elif [ -d "$D$f" ]; then say "skipped: $D$f is a directory now"
    elif [ -e "$D$f" ]; then present+=("$D$f"); fi
done
say "rm ${#present[@]} of the ${#files[@]} files and links listed"
if [ $DRY = 0 ] && [ ${#present[@]} -gt 0 ]; then printf '%s\0' "${present[@]}" | xargs -0 rm -f --; fi
# directories deepest first; only the ones install created, and only when empty
if [ $DRY = 0 ] && [ ${#dirs[@]} -gt 0 ]; then
    for d in "${dirs[@]}"; do printf '%s\t%s\0' "${#d}" "$D$d"; done | sort -z -rn | cut -z -f2- \
        | xargs -0 rmdir --ignore-fail-on-non-empty -- 2>/dev/null || true
fi
kept=0
for d in "${dirs[@]}"; do
    if [ -d "$D$d" ]; then kept=$((kept + 1)); [ $DRY = 1 ] || say "kept $D$d: it holds files install.sh did not put there"; fi
done
if [ $DRY = 1 ]; then say "would remove ${#dirs[@]} directories install.sh created, when empty"; else say "removed the directories install.sh created ($kept kept)"; fi

if [ -z "$D" ] && [ $SYSTEMCTL = 1 ] && [ -d /run/systemd/system ]; then
    run systemctl daemon-reload
fi
if [ $DRY = 1 ]; then say "dry run: nothing was changed"; else say "done"; fi
