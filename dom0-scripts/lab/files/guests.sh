#!/bin/bash
# guests.sh - PV guests of the lab. Guest n is "domu<n>", MAC 00:16:3e:00:00:<n+1>,
# address 198.18.0.<n+1> on xenbr0, vif vif<domid>.0.
#   guests.sh create N [N...]   create those guests one after another and wait until
#                               each answers on its command service (prints name domid ip)
#   guests.sh ip N              the address of guest N
#   guests.sh destroy N         xl destroy and wait until backend and vif are gone
#   guests.sh wait-gone DOMID   wait until backend/vif/DOMID and its vif netdevs are gone
# Guests are created one at a time: with one dom0 vCPU under TCG, libxl's 10 s
# backend wait failed when a second create overlapped a booting guest.
set -uo pipefail
ip_of() { echo "198.18.0.$(($1 + 1))"; }
ready() { [ "$(/lab/gexec "$1" 'echo ready' 2>/dev/null)" = ready ]; }
wait_gone() {
    local d=$1 i=0
    while [ $i -lt 300 ]; do
        if ! xenstore-exists "/local/domain/0/backend/vif/$d" 2>/dev/null &&
           ! ls /sys/class/net 2>/dev/null | grep -q "^vif$d\."; then return 0; fi
        sleep 0.1; i=$((i + 1))
    done
    echo "guests.sh: backend/vif/$d or vif$d.* still present after 30 s" >&2; return 1
}
create() {
    local n=$1 ip name try deadline mac
    ip=$(ip_of "$n"); name=domu$n; mac=$(printf '00:16:3e:00:00:%02x' $((n + 1)))
    for try in 1 2; do
        if timeout 300 xl create /lab/domU.cfg "name=\"$name\"" \
            "vif=[\"mac=$mac,bridge=xenbr0\"]" \
            "extra=\"console=hvc0 rdinit=/init quiet lab.ip=$ip ${GUEST_EXTRA:-}\"" >"/tmp/xl-create-$name.log" 2>&1; then
            break
        fi
        echo "guests.sh: xl create $name failed (try $try):" >&2; tail -15 "/tmp/xl-create-$name.log" >&2
        xl destroy "$name" 2>/dev/null; sleep 2
        [ $try = 2 ] && return 1
    done
    deadline=$((SECONDS + 180))
    until ready "$ip"; do
        if [ $SECONDS -gt $deadline ]; then
            echo "guests.sh: $name ($ip) created but never answered on tcp/5000 within 180 s" >&2; return 1
        fi
        sleep 0.5
    done
    echo "$name $(xl domid "$name") $ip"
}
case ${1:-} in
create) shift; for n in "$@"; do create "$n" || exit 1; done ;;
ip) ip_of "$2" ;;
destroy) d=$(xl domid "domu$2") || exit 1; xl destroy "domu$2"; wait_gone "$d" ;;
wait-gone) wait_gone "$2" ;;
*) sed -n '2,12p' "$0"; exit 2 ;;
esac
