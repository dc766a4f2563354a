#!/bin/bash
# run-lab.sh - boot Xen 4.17 + the Debian dom0 (+ the lab scripts) in QEMU/TCG.
#
#   run-lab.sh --ctl DIR [--log FILE]     agent mode: the host drives dom0 through
#                                         DIR/q (see files/agent.sh, test/lab/lab.ts)
#   run-lab.sh --shell                    interactive dom0 bash on the serial console
#                                         (Ctrl-a x quits QEMU)
# Options:
#   --kernel 6.1|6.12   lab kernel series (default $LAB_KERNEL or 6.1; pinned in kernels.conf)
#   --netback FILE.ko   load this xen-netback instead of the kernel's own
#   --timeout SECS      hard limit for the whole run (default 1800): QEMU is killed after it
#   --mem MB --dom0-mem MB --smp N   (defaults 3072, 1536, 1)
#   --share DIR         the checkout shared at /vifq in dom0 (default: this repository)
# The VM has no network device (-nic none); its only networks are inside dom0
# (xenbr0 and the uplink stand-in, 198.18.0.0/24). Each run has its own log and
# ctl dir, so several labs can run at once.
# Exit: 0 if dom0 printed "@@LAB RESULT PASS", 3 on a Xen/dom0 crash, 124 on
# timeout, 1 otherwise. The log names the step that failed.
set -uo pipefail
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$LAB_DIR/../.." && pwd)
MODE=agent CTL="" LOG="" NETBACK="" TIMEOUT=1800 MEM=3072 DOM0_MEM=1536 SMP=1 SHARE=$REPO
while [ $# -gt 0 ]; do
    case $1 in
        --ctl) CTL=$2; shift;;
        --log) LOG=$2; shift;;
        --shell) MODE=shell;;
        --kernel) LAB_KERNEL=$2; shift;;
        --netback) NETBACK=$(readlink -f "$2"); shift;;
        --timeout) TIMEOUT=$2; shift;;
        --mem) MEM=$2; shift;;
        --dom0-mem) DOM0_MEM=$2; shift;;
        --smp) SMP=$2; shift;;
        --share) SHARE=$(readlink -f "$2"); shift;;
        -h|--help) sed -n '2,22p' "$0"; exit 0;;
        *) echo "run-lab.sh: unknown option $1 (see --help)" >&2; exit 2;;
    esac
    shift
done
export LAB_KERNEL
source "$LAB_DIR/kernel-env.sh"
"$LAB_DIR/check-host.sh" run || exit 1
IMG=$VIFQ_BUILD/lab/$KVER
"$LAB_DIR/build-images.sh" || { echo "run-lab.sh: building the lab images failed (see above)" >&2; exit 1; }

RUN=$(mktemp -d "${TMPDIR:-/tmp}/vifq-lab.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
INITRD=$IMG/dom0.cpio.gz
if [ -n "$NETBACK" ]; then
    [ -f "$NETBACK" ] || { echo "run-lab.sh: --netback $NETBACK: no such file" >&2; exit 2; }
    # Linux accepts concatenated cpio archives: a tiny overlay adds /lab/xen-netback.ko
    mkdir -p "$RUN/ov/lab"; cp "$NETBACK" "$RUN/ov/lab/xen-netback.ko"
    (cd "$RUN/ov" && find lab | cpio -o -H newc --owner 0:0 --quiet | gzip) > "$RUN/ov.cpio.gz"
    cat "$IMG/dom0.cpio.gz" "$RUN/ov.cpio.gz" > "$RUN/dom0.cpio.gz"
    INITRD=$RUN/dom0.cpio.gz
fi
NINEP=(-virtfs "local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on,id=hostusr"
       -virtfs "local,path=$SHARE,mount_tag=vifq,security_model=none,id=vifq"
       -virtfs "local,path=$SHARE,mount_tag=vifqro,security_model=none,readonly=on,id=vifqro")
if [ "$MODE" = agent ]; then
    [ -n "$CTL" ] || { echo "run-lab.sh: agent mode needs --ctl DIR (or use --shell)" >&2; exit 2; }
    mkdir -p "$CTL/q"
    NINEP+=(-virtfs "local,path=$(readlink -f "$CTL"),mount_tag=ctl,security_model=none,id=ctl")
fi
# Xen: smap=0 is required under TCG (the PV dom0 dies at its first exception
# bounce otherwise); bootscrub=0 skips scrubbing emulated RAM; noreboot so a crash ends the run.
XEN_ARGS="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=${DOM0_MEM}M,max:${DOM0_MEM}M dom0_max_vcpus=$SMP bootscrub=0 smap=0 noreboot"
DOM0_ARGS="console=hvc0 earlyprintk=xen rdinit=/init panic=-1 lab.mode=$MODE"
# -cpu max,-xsave: with XSAVE, Xen-on-TCG loses AVX state across domain switches
# once two domains run (corrupt decompression in xl create, user-space crashes).
QEMU=(qemu-system-x86_64 -machine pc -accel tcg,thread=multi -cpu max,-xsave -smp "$SMP" -m "$MEM"
      -nic none -no-reboot "${NINEP[@]}"
      -kernel "$IMG/xen" -append "$XEN_ARGS"
      -initrd "$IMG/vmlinuz $DOM0_ARGS,$INITRD")

if [ "$MODE" = shell ]; then
    "${QEMU[@]}" -nographic
    exit $?
fi
LOG=${LOG:-$CTL/lab.log}
echo "[lab] kernel $KVER ($KPKGVER) netback=${NETBACK:-stock} log=$LOG" >&2
{ echo "[lab] versions: $(tr '\n' ';' < "$IMG/versions.txt")"; echo "[lab] ${QEMU[*]}"; } > "$LOG"
us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
T0=$(us)
RC=1
while IFS= read -r line; do
    line=${line%$'\r'}
    d=$(( $(us) - T0 )); printf '%5d.%03d %s\n' $((d / 1000000)) $(((d % 1000000) / 1000)) "$line" >> "$LOG"
    case $line in
        *"@@LAB RESULT PASS"*) RC=0 ;;
        *"@@LAB RESULT FAIL"*) RC=1; echo "[lab] ${line#*@@LAB }" >&2 ;;
        *"@@LAB "*) echo "[lab] ${line#*@@LAB }" >&2 ;;
        *"Hardware Dom0 crashed"*|*"Kernel panic"*|*"Panic on CPU"*|*"general protection fault"*|*"BUG: "*)
            echo "[lab] CRASH: $line (log $LOG)" >&2; RC=3 ;;
        "@@QEMU-EXIT rc=124"|"@@QEMU-EXIT rc=137") echo "[lab] TIMEOUT after $TIMEOUT s (log $LOG)" >&2; RC=124 ;;
    esac
done < <(timeout -k 10 "$TIMEOUT" "${QEMU[@]}" -display none -serial stdio -monitor none 2>&1; echo "@@QEMU-EXIT rc=$?")
echo "[lab] exit $RC (log $LOG)" >&2
exit $RC
