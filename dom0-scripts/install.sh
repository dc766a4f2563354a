#!/bin/bash
# install.sh - install vifqd and the vifq CLI on a Xen dom0, from a built tree.
#
#   dom0-scripts/install.sh [--prefix /opt/vifq] [--bindir /usr/bin] [--destdir DIR]
#                           [--dry-run] [--no-systemctl]
#
# Needs a built tree first: `npm ci && npm run build:native && npm run build`. Installs
#   PREFIX/{package.json,package-lock.json,bin/vifq,bin/vifqd,dist/,README.md,docs/}
#   PREFIX/node_modules/   the production dependencies only (`npm ls --omit=dev`), copied from
#                          this tree's node_modules: no registry access at install time
#   PREFIX/dist/netlink/native/build/Release/vifq_nlsock.node   the addon (netlink, sd_notify)
#   BINDIR/vifq, BINDIR/vifqd -> PREFIX/bin/...                  symlinks
#   /etc/systemd/system/vifqd.service                           ExecStart=BINDIR/vifqd
#   /etc/xen/scripts/vif-post.d/00-vifq.hook                     the hotplug nudge (0755)
#   PREFIX/install-manifest                                      every path above, for uninstall.sh
# then `systemctl daemon-reload`, `systemctl enable vifqd.service` and `systemctl try-restart
# vifqd.service` (restarts it only if it was running: an upgrade). systemctl is skipped with
# --destdir (a staging tree, e.g. for a package), with --no-systemctl, or when systemd is not
# running. An existing install at the same prefix is removed first (through its manifest).
# --dry-run prints what would be done and changes nothing. DESTDIR in the environment works too.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/vifq
BINDIR=/usr/bin
DESTDIR=${DESTDIR:-}
DRY=0
SYSTEMCTL=1
UNITDIR=/etc/systemd/system
HOOKDIR=/etc/xen/scripts/vif-post.d

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --bindir) BINDIR=${2:?--bindir needs a directory}; shift 2 ;;
        --bindir=*) BINDIR=${1#*=}; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) DESTDIR=${1#*=}; shift ;;
        --dry-run|-n) DRY=1; shift ;;
        --no-systemctl) SYSTEMCTL=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done
case $PREFIX in /*) ;; *) die "--prefix must be absolute: $PREFIX" ;; esac
case $BINDIR in /*) ;; *) die "--bindir must be absolute: $BINDIR" ;; esac
[ "$PREFIX" != / ] || die "--prefix / would mix vifq's files with the system's; use a directory of its own (default /opt/vifq)"
PREFIX=${PREFIX%/}; BINDIR=${BINDIR%/}
if [ -n "$DESTDIR" ]; then
    case $DESTDIR in /*) ;; *) DESTDIR=$(pwd)/$DESTDIR ;; esac
    DESTDIR=${DESTDIR%/}
fi
D=$DESTDIR
MANIFEST=$PREFIX/install-manifest

# --- what there is to install (checked before anything is touched) --------------------------
addon=$REPO/src/netlink/native/build/Release/vifq_nlsock.node
[ -f "$REPO/dist/service/main.js" ] || die "$REPO/dist is not built: run 'npm run build' first"
[ -f "$addon" ] || die "the native addon is not built ($addon): run 'npm run build:native' first"
for f in bin/vifq bin/vifqd package.json package-lock.json dom0-scripts/systemd/vifqd.service \
         dom0-scripts/hotplug/vif-post.d/00-vifq.hook; do
    [ -f "$REPO/$f" ] || die "$REPO/$f is missing"
done
[ -d "$REPO/node_modules" ] || die "$REPO/node_modules is missing: run 'npm ci' first"
# production dependencies: the directories npm itself resolves without dev dependencies
mapfile -t deps < <(cd "$REPO" && npm ls --omit=dev --all --parseable 2>/dev/null | grep -F "$REPO/node_modules/" || true)
[ ${#deps[@]} -gt 0 ] || die "npm ls --omit=dev found no production dependencies in $REPO/node_modules (run 'npm ci')"
command -v node >/dev/null 2>&1 || echo "install.sh: warning: node is not on PATH; vifq and vifqd need Node >= 20" >&2

say() { echo "[install] $*"; }
run() { say "$*"; [ $DRY = 1 ] || "$@"; }

# --- an earlier install at this prefix goes first, through its own manifest ------------------
upgrading=0
if [ -f "$D$MANIFEST" ]; then
    upgrading=1
    say "an earlier install is at $D$PREFIX: removing it first (its manifest)"
    args=(--prefix "$PREFIX" --no-systemctl)
    [ -z "$D" ] || args+=(--destdir "$D")
    [ $DRY = 0 ] || args+=(--dry-run)
    "$REPO/dom0-scripts/uninstall.sh" "${args[@]}"
fi

# --- install, recording every path (relative to DESTDIR) in the manifest ---------------------
umask 022
entries=()          # "d PATH" (a directory this install created), "f PATH", "l PATH"
declare -A made=()  # directories created (or, in a dry run, that would be)
mkdirs() {          # mkdirs DIR: create DIR and missing parents, recording the ones created
    local dir=$1 missing=()
    while [ "$dir" != / ] && [ -n "$dir" ] && [ -z "${made[$dir]:-}" ] && [ ! -d "$D$dir" ]; do
        missing=("$dir" "${missing[@]}"); dir=${dir%/*}; [ -n "$dir" ] || dir=/
    done
    for dir in "${missing[@]}"; do
        run mkdir -m 0755 "$D$dir"
        made[$dir]=1
        entries+=("d $dir")
    done
}
not_foreign() {     # not_foreign PATH: refuse to overwrite something no manifest of ours listed
    if [ -e "$D$1" ] || [ -L "$D$1" ]; then
        [ $DRY = 1 ] && [ $upgrading = 1 ] && return 0   # the dry run did not remove the old one
        die "$D$1 exists and is not vifq's (no install manifest lists it): move it away, or use another --prefix/--bindir"
    fi
}
install_file() {    # install_file MODE SRC DST
    mkdirs "${3%/*}"
    not_foreign "$3"
    run install -m "$1" "$2" "$D$3"
    entries+=("f $3")
}
install_tree() {    # install_tree SRCDIR DSTDIR: the tree as it is (symlinks kept), owned by us, no group/other write
    local src=$1 dst=$2 type rel
    mkdirs "$dst"
    while IFS= read -r -d '' type && IFS= read -r -d '' rel; do
        case $rel in *$'\n'*) die "a file name with a newline cannot go in the manifest: $src/$rel" ;; esac
        case $type in
            d) if [ -z "${made[$dst/$rel]:-}" ] && [ ! -d "$D$dst/$rel" ]; then made[$dst/$rel]=1; entries+=("d $dst/$rel"); fi ;;
            l) entries+=("l $dst/$rel") ;;
            *) entries+=("f $dst/$rel") ;;
        esac
    done < <(cd "$src" && find . -mindepth 1 -printf '%y\0%P\0')
    say "cp -R $src/. $D$dst/"
    if [ $DRY = 0 ]; then
        cp -R -P --preserve=mode,timestamps "$src/." "$D$dst/"
        chmod -R go-w "$D$dst"
    fi
}
link() {            # link TARGET LINKPATH
    mkdirs "${2%/*}"
    not_foreign "$2"
    run ln -sfn "$1" "$D$2"
    entries+=("l $2")
}

# refuse before changing anything when a path we would write is someone else's
for p in "$BINDIR/vifq" "$BINDIR/vifqd" "$UNITDIR/vifqd.service" "$HOOKDIR/00-vifq.hook"; do not_foreign "$p"; done
if [ $upgrading = 0 ] && [ -d "$D$PREFIX" ] && [ -n "$(ls -A "$D$PREFIX")" ]; then
    die "$D$PREFIX is not empty and has no install manifest: not installing over files that are not vifq's (use another --prefix)"
fi

[ -z "$D" ] || [ $DRY = 1 ] || mkdir -p "$D"
mkdirs "$PREFIX"
install_file 0644 "$REPO/package.json" "$PREFIX/package.json"
install_file 0644 "$REPO/package-lock.json" "$PREFIX/package-lock.json"
install_file 0755 "$REPO/bin/vifq" "$PREFIX/bin/vifq"
install_file 0755 "$REPO/bin/vifqd" "$PREFIX/bin/vifqd"
[ ! -f "$REPO/README.md" ] || install_file 0644 "$REPO/README.md" "$PREFIX/README.md"
for doc in "$REPO"/docs/*.md; do [ ! -f "$doc" ] || install_file 0644 "$doc" "$PREFIX/docs/${doc##*/}"; done
install_tree "$REPO/dist" "$PREFIX/dist"
install_file 0755 "$addon" "$PREFIX/dist/netlink/native/build/Release/vifq_nlsock.node"
# sorted, a package comes before the packages nested in its node_modules, which it carries
last=
while IFS= read -r dep; do
    rel=${dep#"$REPO/"}
    if [ -n "$last" ] && [ "${rel#"$last"/}" != "$rel" ]; then continue; fi
    install_tree "$dep" "$PREFIX/$rel"
    last=$rel
done < <(printf '%s\n' "${deps[@]}" | sort -u)
link "$PREFIX/bin/vifq" "$BINDIR/vifq"
link "$PREFIX/bin/vifqd" "$BINDIR/vifqd"

mkdirs "$UNITDIR"
not_foreign "$UNITDIR/vifqd.service"
say "install -m 0644 vifqd.service $D$UNITDIR/vifqd.service (ExecStart=$BINDIR/vifqd)"
if [ $DRY = 0 ]; then
    sed -e "s|^ExecStart=/usr/bin/vifqd|ExecStart=$BINDIR/vifqd|" \
        -e "s|file:///opt/vifq/|file://$PREFIX/|" \
        "$REPO/dom0-scripts/systemd/vifqd.service" > "$D$UNITDIR/vifqd.service"
    chmod 0644 "$D$UNITDIR/vifqd.service"
fi
entries+=("f $UNITDIR/vifqd.service")
[ -d "$D/etc/xen/scripts" ] || echo "install.sh: warning: $D/etc/xen/scripts does not exist (is Xen installed?); the hook is installed anyway" >&2
install_file 0755 "$REPO/dom0-scripts/hotplug/vif-post.d/00-vifq.hook" "$HOOKDIR/00-vifq.hook"

entries+=("f $MANIFEST")
say "manifest: $D$MANIFEST (${#entries[@]} entries)"
if [ $DRY = 0 ]; then
    {
        echo "# vifq install manifest: what dom0-scripts/uninstall.sh removes (d = directory this install created)"
        echo "# prefix=$PREFIX bindir=$BINDIR installed=$(date -u +%Y-%m-%dT%H:%M:%SZ) from=$REPO"
        printf '%s\n' "${entries[@]}"
    } > "$D$MANIFEST"
    chmod 0644 "$D$MANIFEST"
fi

# --- systemd ---------------------------------------------------------------------------------
if [ -n "$D" ]; then
    say "DESTDIR set: not running systemctl (run 'systemctl daemon-reload && systemctl enable vifqd' on the target)"
elif [ $SYSTEMCTL = 0 ]; then
    say "--no-systemctl: run 'systemctl daemon-reload && systemctl enable --now vifqd' yourself"
elif [ ! -d /run/systemd/system ]; then
    say "systemd is not running here: start $BINDIR/vifqd by other means (the lab's dom0 does)"
else
    run systemctl daemon-reload
    run systemctl enable vifqd.service
    run systemctl try-restart vifqd.service
    say "enabled; start it with: systemctl start vifqd"
fi
if [ $DRY = 1 ]; then say "dry run: nothing was changed"; else say "done: $D$PREFIX"; fi
