#!/bin/bash
# build-images.sh - build the Xen-in-QEMU lab images from Debian packages only.
#
#   LAB_KERNEL=6.1|6.12  (default 6.1; exact versions pinned in kernels.conf)
#
# Produces in $VIFQ_BUILD/lab/<kver>/ (default build/lab/6.1.0-56-amd64/):
#   xen           Xen 4.17 hypervisor, gunzipped (multiboot ELF for qemu -kernel)
#   vmlinuz       the resolved Debian kernel (dom0; the PV guests' when vmlinux is not made)
#   vmlinux       the same kernel's ELF image, out of vmlinuz's compressed payload: the PV
#                 guests boot it, so xl create does not decompress it in the TCG dom0 for
#                 every guest (6.1's xz: xl create 22-25 s with vmlinuz, 5-10 s with vmlinux,
#                 same boot; the images' stamp makes it when build-images.sh changes)
#   dom0.cpio.gz  dom0 initramfs: bash, iproute2, tc, kmod, tcpdump, Xen toolstack
#                 (xl, xenstored, xenconsoled, xenstore-*), /etc/xen/scripts, kernel
#                 modules, node's shared libraries (node itself comes over 9p),
#                 the guest kernel/initramfs/config and the lab scripts (files/)
#   domU.cpio.gz  guest initramfs: busybox, xen-netfront, xenstore tools, udpblast,
#                 the guest command service (files/domU-init, files/labsh)
#   versions.txt  every package version the images were built from
# Re-runnable; rebuilds only when an input is newer than the output.
set -euo pipefail
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
source "$LAB_DIR/kernel-env.sh"
XENVER=4.17
XENBIN=/usr/lib/xen-$XENVER/bin
OUT=$VIFQ_BUILD/lab/$KVER
log() { echo "[images] $*" >&2; }

stamp=$OUT/.stamp
if [ -e "$stamp" ] && [ -z "$(find "$LAB_DIR/build-images.sh" "$LAB_DIR/files" "$LAB_DIR/kernels.conf" -newer "$stamp" -print -quit)" ]; then
    log "up to date: $OUT"; exit 0
fi
"$LAB_DIR/check-host.sh" images
kernel_fetch
log "kernel $KVER ($KPKGVER), xen $XENVER -> $OUT"
rm -rf "$OUT"; mkdir -p "$OUT"
zcat "/boot/xen-$XENVER-amd64.gz" > "$OUT/xen"
cp "$KROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz"

# The ELF image inside a bzImage: the first payload of a format the kernel is built with
# (Debian: xz for 6.1, zstd for 6.12) that decompresses to an ELF file. None: the guests
# boot vmlinuz and libxenguest decompresses it, as before.
extract_vmlinux() {  # extract_vmlinux BZIMAGE OUT
    local magic tool off
    for pair in 'fd377a585a00:xz -dc --single-stream' '28b52ffd:zstd -dcq' '1f8b08:gzip -dc'; do
        magic=${pair%%:*} tool=${pair#*:}
        command -v "${tool%% *}" >/dev/null || continue
        for off in $(LC_ALL=C grep -obUaP "$(sed 's/../\\x&/g' <<<"$magic")" "$1" | cut -d: -f1 | head -3); do
            tail -c +$((off + 1)) "$1" | $tool > "$2.tmp" 2>/dev/null
            if [ "$(head -c 4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
                mv "$2.tmp" "$2"; return 0
            fi
        done
    done
    rm -f "$2.tmp"; return 1
}
if extract_vmlinux "$OUT/vmlinuz" "$OUT/vmlinux"; then
    log "vmlinux (guest kernel, ELF) $(du -h "$OUT/vmlinux" | cut -f1)"
else
    log "no ELF payload found in vmlinuz: the guests boot vmlinuz (slower xl create)"
fi

new_root() {  # usrmerged skeleton
    local R=$1
    rm -rf "$R"; mkdir -p "$R"/{usr/bin,usr/sbin,usr/local/bin,usr/lib/x86_64-linux-gnu,usr/lib64,proc,sys,dev,run,tmp,etc,root,mnt,lab,var/lib,var/log}
    ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
    ln -s ../run "$R/var/run"
    chmod 1777 "$R/tmp"
}
copy_file() {  # copy_file ROOT SRC [DST]  (dereferences symlinks)
    local R=$1 src=$2 dst=${3:-$2}
    mkdir -p "$R$(dirname "$dst")"
    rm -f "$R$dst"
    cp -L "$src" "$R$dst"
}
copy_bin() {  # copy_bin ROOT BIN [DST]: the binary and its shared libraries
    local R=$1 bin=$2 dst=${3:-$2} lib
    copy_file "$R" "$bin" "$dst"
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
        [ -e "$R$lib" ] || copy_file "$R" "$lib"
    done
}
busybox_links() {  # every busybox applet that no real tool provides
    local R=$1 a
    copy_file "$R" /bin/busybox /usr/bin/busybox
    for a in $(/bin/busybox --list); do
        [ -e "$R/usr/bin/$a" ] || [ -e "$R/usr/sbin/$a" ] || ln -s busybox "$R/usr/bin/$a"
    done
}
copy_modules() {  # copy_modules ROOT MODULE...: with dependencies, then depmod
    local R=$1 m f; shift
    for m in "$@"; do
        for f in $(modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'); do
            copy_file "$R" "$f" "${f#"$KROOT"}"
        done
    done
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        copy_file "$R" "$KROOT/lib/modules/$KVER/$f" "/lib/modules/$KVER/$f"
    done
    depmod -b "$R" "$KVER"
}
xenstore_tools() {
    local R=$1 a
    copy_bin "$R" /usr/bin/xenstore /usr/bin/xenstore
    for a in read write exists list ls rm chmod watch control; do ln -sf xenstore "$R/usr/bin/xenstore-$a"; done
}
pack() { (cd "$1" && find . -print0 | sort -z | cpio --null -o -H newc --owner 0:0 --quiet) | gzip -6 > "$2"; }

# --- guest -----------------------------------------------------------------
DU=$OUT/rootfs-domU
new_root "$DU"
xenstore_tools "$DU"
busybox_links "$DU"
copy_modules "$DU" xen-netfront
# xl shutdown runs /sbin/poweroff; busybox's own applet would only signal PID 1
printf '#!/bin/sh\nsync\nexec /usr/bin/busybox poweroff -f\n' > "$DU/usr/sbin/poweroff"
chmod 0755 "$DU/usr/sbin/poweroff"
install -m 0755 "$LAB_DIR/files/domU-init" "$DU/init"
install -m 0755 "$LAB_DIR/files/labsh" "$DU/usr/bin/labsh"
gcc -static -O2 -Wall -o "$DU/usr/bin/udpblast" "$LAB_DIR/files/udpblast.c"
gcc -static -O2 -Wall -o "$DU/usr/bin/xs-raw" "$LAB_DIR/files/xs-raw.c"
pack "$DU" "$OUT/domU.cpio.gz"
log "domU.cpio.gz $(du -h "$OUT/domU.cpio.gz" | cut -f1)"

# --- dom0 ------------------------------------------------------------------
D0=$OUT/rootfs-dom0
new_root "$D0"
# real tools first; busybox fills the gaps (its ash would shadow iproute2's ip)
for b in /bin/bash /usr/sbin/ip /usr/sbin/tc /usr/sbin/bridge /usr/bin/flock /usr/bin/stat /usr/bin/kmod \
         /usr/bin/timeout /usr/bin/tcpdump /usr/sbin/ethtool; do
    copy_bin "$D0" "$(readlink -f "$b")" "$b"
done
for a in modprobe insmod rmmod lsmod modinfo depmod; do ln -s ../bin/kmod "$D0/usr/sbin/$a"; done
# node runs from the host's /usr over 9p (/mnt/hostusr); its libraries must be local
for lib in $(ldd /usr/bin/node | grep -o '/[^ ]*'); do [ -e "$D0$lib" ] || copy_file "$D0" "$lib"; done
ln -s /mnt/hostusr/bin/node "$D0/usr/local/bin/node"
for b in xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper; do copy_bin "$D0" "$XENBIN/$b"; done
# xl's pthread_cancel dlopen()s libgcc_s, which ldd does not show
copy_file "$D0" /lib/x86_64-linux-gnu/libgcc_s.so.1
xenstore_tools "$D0"
cp -a /etc/xen "$D0/etc/"
busybox_links "$D0"
copy_modules "$D0" xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-netback bridge veth \
    sch_tbf sch_netem sch_fq_codel sch_cake 9p 9pnet_virtio virtio_pci af_packet
mkdir -p "$D0"/var/lib/xen "$D0"/var/lib/xenstored "$D0"/var/log/xen/console
echo "root:x:0:0:root:/root:/bin/bash" > "$D0/etc/passwd"; echo "root:x:0:" > "$D0/etc/group"
echo "nobody:x:65534:65534:nobody:/nonexistent:/bin/false" >> "$D0/etc/passwd"; echo "nogroup:x:65534:" >> "$D0/etc/group"
cp "$OUT/vmlinuz" "$OUT/domU.cpio.gz" "$D0/lab/"
install -m 0644 "$LAB_DIR/files/domU.cfg" "$D0/lab/"
if [ -e "$OUT/vmlinux" ]; then
    cp "$OUT/vmlinux" "$D0/lab/"
    sed -i 's|^kernel .*|kernel  = "/lab/vmlinux"|' "$D0/lab/domU.cfg"
fi
install -m 0755 "$LAB_DIR/files/"{agent.sh,guests.sh,uplink.sh,gexec} "$D0/lab/"
install -m 0755 "$LAB_DIR/files/dom0-init" "$D0/init"
pack "$D0" "$OUT/dom0.cpio.gz"
log "dom0.cpio.gz $(du -h "$OUT/dom0.cpio.gz" | cut -f1)"

{
    echo "kernel $KVER $KPKGVER (resolved: $(tr '\n' ' ' < "$KROOT/packages.txt"))"
    dpkg-query -W -f='${Package} ${Version}\n' xen-hypervisor-$XENVER-amd64 xen-utils-$XENVER xenstore-utils \
        qemu-system-x86 busybox-static libc6 iproute2 nodejs 2>/dev/null || true
} > "$OUT/versions.txt"
rm -rf "$D0" "$DU"
touch "$stamp"
log "done: $OUT"
