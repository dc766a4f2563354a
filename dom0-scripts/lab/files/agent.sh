# agent.sh - dom0 command agent (sourced by /init, lab.mode=agent).
# The host writes /mnt/ctl/q/<id>.sh (and optionally <id>.timeout, seconds)
# atomically; the agent runs each in its own background bash, so commands may
# overlap, bounded by `timeout` (which also kills what the command started),
# and writes <id>.out, <id>.err, then <id>.rc. A file q/stop powers dom0 off.
Q=/mnt/ctl/q
[ -d /mnt/ctl ] || die "agent mode needs the ctl 9p share (run-lab.sh --ctl DIR)"
mkdir -p $Q
run_one() {
    local id=$1 t=600 rc
    [ -r "$id.timeout" ] && t=$(cat "$id.timeout")
    (cd /root && exec setsid timeout -k 5 "$t" bash "$id.run") > "$id.out" 2> "$id.err" < /dev/null
    rc=$?
    echo $rc > "$id.rc.tmp" && mv "$id.rc.tmp" "$id.rc"
    echo "@@AGENT $(basename "$id") rc=$rc"
}
# The poll's pause is bash's own `read -t` on a FIFO nobody writes: forking `sleep` 20
# times a second took ~10 processes/s of the one emulated CPU from every test.
mkfifo /run/agent-pause && exec {pause}<>/run/agent-pause || die "agent: no FIFO for its pause"
mark "AGENT-READY queue=$Q"
while [ ! -e $Q/stop ]; do
    for f in $Q/*.sh; do
        [ -e "$f" ] || continue
        id=${f%.sh}
        mv "$f" "$id.run" 2>/dev/null || continue
        run_one "$id" &
    done
    read -r -t 0.05 -u "$pause" _
done
mark "AGENT-STOP"
xl list 2>/dev/null | awk 'NR>2{print $1}' | while read -r d; do xl destroy "$d"; done
mark "RESULT PASS"
