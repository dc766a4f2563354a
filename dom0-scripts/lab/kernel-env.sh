# kernel-env.sh - sourced: resolve the pinned lab kernel of series $LAB_KERNEL
# (6.1 default, or 6.12) and make sure its packages are unpacked.
# Out: KSERIES (6.1), KVER (6.1.0-56-amd64), KPKGVER (6.1.192-2), KROOT (unpacked
#      image + headers + source), KBUILD (headers dir for M= builds), KSRC_TAR.
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
KABI=${!_abi_var}
KPKGVER=${!_ver_var}
KVER=$KABI-amd64
KROOT=$VIFQ_BUILD/kernels/$KVER
KBUILD=$KROOT/usr/src/linux-headers-$KVER
KSRC_TAR=$KROOT/usr/src/linux-source-$KSERIES.tar.xz

kernel_fetch() {
    [ -e "$KROOT/.complete" ] && return 0
    local debs=$VIFQ_BUILD/kernels/debs-$KVER p
    local pkgs=("linux-image-$KVER=$KPKGVER" "linux-headers-$KVER=$KPKGVER"
                "linux-headers-$KABI-common=$KPKGVER" "${!_kb_var}=$KPKGVER"
                "linux-source-$KSERIES=$KPKGVER")
    echo "[kernel] fetching pinned $KVER ($KPKGVER) into $KROOT" >&2
    rm -rf "$KROOT" "$debs"; mkdir -p "$KROOT" "$debs"
    if ! (cd "$debs" && apt-get download -q "${pkgs[@]}" >"$debs/download.log" 2>&1); then
        cat "$debs/download.log" >&2
        echo "[kernel] ERROR: apt-get download of the pinned $KSERIES kernel ($KPKGVER) failed." >&2
        echo "[kernel] Run 'apt-get update' first; if the archive has dropped $KPKGVER, bump K_${_k}_ABI/K_${_k}_VER" >&2
        echo "[kernel] in $LAB_DIR/kernels.conf (the file says how)." >&2
        return 1
    fi
    for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$KROOT" || return 1; done
    # the headers' build/source links and the -common include are absolute: point them into KROOT
    ln -sfn "$KBUILD" "$KROOT/lib/modules/$KVER/build"
    ln -sfn "$KROOT/usr/src/linux-headers-$KABI-common" "$KROOT/lib/modules/$KVER/source"
    sed -i "s,^include /usr/src/,include $KROOT/usr/src/," "$KBUILD/Makefile"
    depmod -b "$KROOT" "$KVER"
    printf '%s\n' "${pkgs[@]}" > "$KROOT/packages.txt"
    touch "$KROOT/.complete"
}
