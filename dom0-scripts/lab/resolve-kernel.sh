#!/bin/bash
# resolve-kernel.sh - choose the Debian packages of one lab kernel series from what
# the archive offers, starting from the pin in kernels.conf.
#
#   resolve-kernel.sh --series 6.1 [--madison FILE] [--conf FILE]
#
# Debian's security archive replaces packages with every upload: a pin goes stale
# within days (linux-kbuild-6.1 6.1.192-2 vanished while the image and headers of
# that build stayed). So each package is resolved on its own, in this order:
#   1. pin       the pinned version, if the archive has it;
#   2. revision  else the newest version with the same upstream kernel version
#                (a later Debian revision: 6.1.192-3 for 6.1.192-2);
#   3. series    else the newest version of the same series and flavour (6.1.x,
#                amd64), which may be a new ABI (linux-image-6.1.0-57-amd64).
# The image, the headers and the -common headers are one build: they move together,
# to the newest version all three share. kbuild and linux-source then prefer the
# image's version. One warning line on stderr names each pin not taken and what was.
#
# The archive view is `apt-cache madison` output ("name | version | source"); with
# --madison FILE it is read from FILE (the unit tests feed saved views), otherwise
# asked of apt-cache.
# Out (stdout, shell assignments to eval): R_ABI R_VER R_KBUILD_NAME R_STALE
# (number of packages not at their pin) R_PKGS (name=version ...).
# Exit 2 on usage errors, 3 when a package cannot be resolved (the message says
# what the archive has and what to do).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERIES="" MADISON="" CONF=$HERE/kernels.conf
while [ $# -gt 0 ]; do
    case $1 in
        --series) SERIES=$2; shift;;
        --madison) MADISON=$2; shift;;
        --conf) CONF=$2; shift;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
        *) echo "resolve-kernel.sh: unknown option $1" >&2; exit 2;;
    esac
    shift
done
[ -n "$SERIES" ] || { echo "resolve-kernel.sh: --series is required" >&2; exit 2; }
# shellcheck source=kernels.conf
source "$CONF"
_k=${SERIES//./_}
_abi_var=K_${_k}_ABI _ver_var=K_${_k}_VER _kb_var=K_${_k}_KBUILD
if [ -z "${!_abi_var:-}" ] || [ -z "${!_ver_var:-}" ] || [ -z "${!_kb_var:-}" ]; then
    echo "resolve-kernel.sh: no pin for series $SERIES in $CONF" >&2; exit 2
fi
PIN_ABI=${!_abi_var} PIN_VER=${!_ver_var} PIN_KBUILD=${!_kb_var}
# the kbuild package is per series (linux-kbuild-6.1) or per ABI (linux-kbuild-6.12.117+deb12)
kbuild_name() { echo "${PIN_KBUILD//$PIN_ABI/$1}"; }

VIEW=$(mktemp); trap 'rm -f "$VIEW"' EXIT
if [ -n "$MADISON" ]; then
    cat "$MADISON" > "$VIEW" || exit 2
else
    # every image/headers package of the series (any ABI), kbuild and source
    names=$(apt-cache pkgnames "linux-image-$SERIES." 2>/dev/null; apt-cache pkgnames "linux-headers-$SERIES." 2>/dev/null
            apt-cache pkgnames "linux-kbuild-$SERIES" 2>/dev/null; echo "linux-source-$SERIES")
    # shellcheck disable=SC2086
    apt-cache madison $(sort -u <<<"$names") > "$VIEW" 2>/dev/null
fi

# versions NAME: every version of package NAME in the view, one per line
versions() {
    awk -F'|' -v n="$1" '{ gsub(/[ \t]/, "", $1); gsub(/[ \t]/, "", $2); if ($1 == n && $2 != "") print $2 }' "$VIEW" | sort -u
}
upstream() { echo "${1%-*}"; }                      # 6.1.192-2 -> 6.1.192
series_of() { local u; u=$(upstream "$1"); echo "${u%.*}"; }   # -> 6.1
newest() {  # stdin: versions; stdout: the newest by Debian's ordering
    local v best=""
    while read -r v; do
        [ -n "$v" ] || continue
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done
    echo "$best"
}
has() { versions "$1" | grep -qxF -- "$2"; }
abi_names() { echo "linux-image-$1-amd64 linux-headers-$1-amd64 linux-headers-$1-common"; }
# abi_versions ABI: versions that image, headers and -common of ABI all have
abi_versions() {
    local n first=1 acc=""
    for n in $(abi_names "$1"); do
        if [ $first = 1 ]; then acc=$(versions "$n"); first=0
        else acc=$(comm -12 <(echo "$acc") <(versions "$n")); fi
    done
    echo "$acc" | grep -v '^$'
}
# the ABIs of the series and flavour: linux-image-<ABI>-amd64 with a numeric ABI
# (6.1.0-56, 6.12.117+deb12), so -cloud-amd64, -rt-amd64 and -dbg never match
series_abis() {
    awk -F'|' '{ gsub(/[ \t]/, "", $1); print $1 }' "$VIEW" | sort -u |
        sed -nE 's/^linux-image-([0-9]+\.[0-9]+\.[0-9]+(-[0-9]+)?(\+deb[0-9]+)?)-amd64$/\1/p' |
        while read -r a; do [ "${a#"$SERIES".}" != "$a" ] && echo "$a"; done
}
in_series() { while read -r v; do [ -n "$v" ] && [ "$(series_of "$v")" = "$SERIES" ] && echo "$v"; done; }
with_upstream() { local u=$1 v; while read -r v; do [ -n "$v" ] && [ "$(upstream "$v")" = "$u" ] && echo "$v"; done; }
warn() { echo "[kernel] WARNING: $*" >&2; }
fail() {
    echo "[kernel] ERROR: $*" >&2
    echo "[kernel] The archive view ($(wc -l < "$VIEW") lines) has these amd64 images of $SERIES: $(series_abis | tr '\n' ' ')" >&2
    echo "[kernel] Run 'apt-get update' (as root) and try again; if the series is gone from the archive, pick" >&2
    echo "[kernel] a new pin in $CONF (the file says how)." >&2
    exit 3
}

# --- the ABI set: image + headers + -common, one build ---
ABI=$PIN_ABI VER="" RULE=""
if abi_versions "$PIN_ABI" | grep -qxF -- "$PIN_VER"; then
    VER=$PIN_VER RULE=pin
else
    VER=$(abi_versions "$PIN_ABI" | with_upstream "$(upstream "$PIN_VER")" | newest)
    if [ -n "$VER" ]; then
        RULE=revision
    else
        best_abi="" best_ver=""
        for a in $(series_abis); do
            v=$(abi_versions "$a" | in_series | newest)
            [ -n "$v" ] || continue
            if [ -z "$best_ver" ] || dpkg --compare-versions "$v" gt "$best_ver"; then best_abi=$a best_ver=$v; fi
        done
        [ -n "$best_ver" ] || fail "no linux-image/headers of the $SERIES series (amd64) in the archive view (pin: $(abi_names "$PIN_ABI" | tr ' ' ',')=$PIN_VER)"
        ABI=$best_abi VER=$best_ver RULE=series
    fi
fi
STALE=0
PKGS=()
why() {  # why RULE VERSION: the words of the warning line
    case $1 in
        revision) echo "same upstream $(upstream "$2"), another Debian revision";;
        series) echo "newest of the $SERIES series";;
        image) echo "the version of the image taken";;
    esac
}
take() {  # take PINNED-NAME PINNED-VERSION NAME VERSION RULE
    PKGS+=("$3=$4")
    if [ "$1=$2" != "$3=$4" ]; then
        STALE=$((STALE + 1))
        warn "pin $1=$2 is not in the archive; took $3=$4 ($(why "$5" "$4"))"
    fi
}
for n in image headers common; do
    case $n in
        image) pn=linux-image-$PIN_ABI-amd64 nn=linux-image-$ABI-amd64;;
        headers) pn=linux-headers-$PIN_ABI-amd64 nn=linux-headers-$ABI-amd64;;
        common) pn=linux-headers-$PIN_ABI-common nn=linux-headers-$ABI-common;;
    esac
    take "$pn" "$PIN_VER" "$nn" "$VER" "$RULE"
done

# --- kbuild and source: the image's version, else its upstream, else the series ---
# (when the image is at its pin, "the image's version" is the pin)
resolve_one() {  # resolve_one PINNED-NAME NAME
    local pn=$1 name=$2 v rule
    if has "$name" "$VER"; then
        v=$VER rule=$([ "$RULE" = pin ] && echo pin || echo image)
    else
        v=$(versions "$name" | with_upstream "$(upstream "$VER")" | newest) rule=revision
        if [ -z "$v" ]; then
            v=$(versions "$name" | in_series | newest) rule=series
        fi
    fi
    [ -n "$v" ] || fail "no $name of the $SERIES series in the archive view (wanted $VER, pin $pn=$PIN_VER)"
    take "$pn" "$PIN_VER" "$name" "$v" "$rule"
}
KBUILD_NAME=$(kbuild_name "$ABI")
resolve_one "$PIN_KBUILD" "$KBUILD_NAME"
resolve_one "linux-source-$SERIES" "linux-source-$SERIES"

printf 'R_ABI=%q\nR_VER=%q\nR_KBUILD_NAME=%q\nR_STALE=%q\nR_PKGS=%q\n' \
    "$ABI" "$VER" "$KBUILD_NAME" "$STALE" "${PKGS[*]}"
