# kernel-env.sh - sourced: resolve the lab kernel of series $LAB_KERNEL (6.1
# default, or 6.12) and make sure its packages are unpacked.
# Out: KSERIES (6.1), KVER (6.1.0-56-amd64), KPKGVER (6.1.192-2: the image's
#      version), KPKGS (name=version of every package), KROOT (unpacked image +
#      headers + source), KBUILD (headers dir for M= builds), KSRC_TAR.
#
# kernels.conf pins the versions last verified; the archive moves on with every
# Debian security upload, so resolve-kernel.sh picks, package by package, the pin
# or the nearest build the archive still has (and warns). The choice is kept in
# build/kernels/resolved-<series>.env (keyed by the pin); once that kernel is
# unpacked, every later step uses it without asking apt again.
LAB_DIR=${LAB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
VIFQ_BUILD=${VIFQ_BUILD:-$(cd "$LAB_DIR/../.." && pwd)/build}
source "$LAB_DIR/kernels.conf"
KSERIES=${LAB_KERNEL:-$LAB_KERNEL_DEFAULT}
_k=${KSERIES//./_}
_abi_var=K_${_k}_ABI _ver_var=K_${_k}_VER _kb_var=K_${_k}_KBUILD
if [ -z "${!_abi_var:-}" ]; then
    echo "kernel-env: no pin for LAB_KERNEL=$KSERIES in $LAB_DIR/kernels.conf (known: 6.1, 6.12)" >&2
    return 2 2>/dev/null || exit 2
fi
_kenv_pin="${!_abi_var} ${!_ver_var} ${!_kb_var}"
_kenv_cache=$VIFQ_BUILD/kernels/resolved-$KSERIES.env
# _kenv_resolve: ask the archive (apt-get update first when root and the pin is not
# all there), write the cache
_kenv_resolve() {
    local out rc err
    mkdir -p "$VIFQ_BUILD/kernels"
    err=$(mktemp)
    out=$("$LAB_DIR/resolve-kernel.sh" --series "$KSERIES" 2>"$err"); rc=$?
    # the pin not all in apt's lists: they may be older than the archive; update, ask again
    if { [ $rc != 0 ] || ! grep -q "^R_STALE=0$" <<<"$out"; } && [ "$(id -u)" = 0 ]; then
        echo "[kernel] the $KSERIES pin is not all in apt's lists: apt-get update" >&2
        apt-get update -q >/dev/null 2>&1 || echo "[kernel] apt-get update failed; resolving from the lists as they are" >&2
        out=$("$LAB_DIR/resolve-kernel.sh" --series "$KSERIES" 2>"$err"); rc=$?
    fi
    cat "$err" >&2; rm -f "$err"
    [ $rc = 0 ] || return 1
    { echo "R_PIN=$(printf %q "$_kenv_pin")"; echo "$out"; } > "$_kenv_cache.tmp" && mv "$_kenv_cache.tmp" "$_kenv_cache"
}
_kenv_load() {  # _kenv_load [any]: the cached choice (only if unpacked, unless "any")
    [ -f "$_kenv_cache" ] || return 1
    local R_PIN="" R_ABI="" R_VER="" R_KBUILD_NAME="" R_STALE="" R_PKGS=""
    source "$_kenv_cache"
    [ "$R_PIN" = "$_kenv_pin" ] && [ -n "$R_ABI" ] || return 1
    [ "${1:-}" = any ] || [ -e "$VIFQ_BUILD/kernels/$R_ABI-amd64/.complete" ] || return 1
    KABI=$R_ABI KPKGVER=$R_VER KPKGS=$R_PKGS
}
if ! _kenv_load; then
    if ! _kenv_resolve || ! _kenv_load any; then
        echo "[kernel] ERROR: cannot resolve the $KSERIES lab kernel's packages (see above)" >&2
        return 1 2>/dev/null || exit 1
    fi
fi
KVER=$KABI-amd64
KROOT=$VIFQ_BUILD/kernels/$KVER
KBUILD=$KROOT/usr/src/linux-headers-$KVER
KSRC_TAR=$KROOT/usr/src/linux-source-$KSERIES.tar.xz

kernel_fetch() {
    [ -e "$KROOT/.complete" ] && return 0
    local debs=$VIFQ_BUILD/kernels/debs-$KVER p
    local pkgs
    read -ra pkgs <<<"$KPKGS"
    echo "[kernel] fetching $KVER (${pkgs[*]}) into $KROOT" >&2
    rm -rf "$KROOT" "$debs"; mkdir -p "$KROOT" "$debs"
    local abi=$KABI
    if ! (cd "$debs" && apt-get download -q "${pkgs[@]}" >"$debs/download.log" 2>&1) &&
        # apt's lists may be older than the archive (they listed a build it has since
        # dropped): update them, resolve again and retry once, if the ABI stays
        ! { [ "$(id -u)" = 0 ] && apt-get update -q >/dev/null 2>&1 && _kenv_resolve && _kenv_load any &&
            [ "$KABI" = "$abi" ] && read -ra pkgs <<<"$KPKGS" &&
            (cd "$debs" && apt-get download -q "${pkgs[@]}" >"$debs/download.log" 2>&1); }; then
        cat "$debs/download.log" >&2
        [ "$KABI" = "$abi" ] || echo "[kernel] the archive now has another ABI ($KABI-amd64, was $abi-amd64): run the command again" >&2
        echo "[kernel] ERROR: apt-get download of the $KSERIES kernel failed (${pkgs[*]})." >&2
        echo "[kernel] Run 'apt-get update' as root and try again (the packages are then resolved anew)." >&2
        rm -f "$_kenv_cache"
        return 1
    fi
    for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$KROOT" || return 1; done
    # the headers' build/source links and the -common include are absolute: point them into KROOT
    ln -sfn "$KBUILD" "$KROOT/lib/modules/$KVER/build"
    ln -sfn "$KROOT/usr/src/linux-headers-$KABI-common" "$KROOT/lib/modules/$KVER/source"
    sed -i "s,^include /usr/src/,include $KROOT/usr/src/," "$KBUILD/Makefile"
    depmod -b "$KROOT" "$KVER" || return 1
    printf '%s\n' "${pkgs[@]}" > "$KROOT/packages.txt"
    touch "$KROOT/.complete"
}
