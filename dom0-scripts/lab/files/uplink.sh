#!/bin/bash
# uplink.sh - the lab network in dom0.
#   xenbr0 (198.18.0.1/24): every guest's vif is a port of this bridge.
#   The physical-NIC stand-in: veth "uplink0" on the bridge whose peer "sinkif"
#   sits in netns "sink" (198.18.0.100). The egress qdisc of uplink0 is the ONE
#   shared transmit queue all guests' traffic to the sink waits in, as in a real
#   NIC's queue; its rate is set well below what the emulated CPU can push, so
#   the queue, not the CPU, is the bottleneck.
#
#   uplink.sh up                       bridge + uplink + sink listeners (default qdisc)
#   uplink.sh qdisc tbf RATE [LIMITMS] token bucket + FIFO (the problem)  default 8mbit 200
# tbf's burst is 96 KiB, above the largest GSO frame a guest sends (64 KiB +
# headers): with a smaller burst tbf segments GSO frames at enqueue, and the
# segmentation copies netback's zerocopy frags, so every guest packet would be
# "released" before it waited in the queue; a NIC with TSO does not do that.
#   uplink.sh qdisc fq_codel RATE      the same rate with flow queueing + AQM
#   uplink.sh qdisc cake RATE [ISOL]   CAKE as the shaper, per-host isolation ISOL
#                                      (default dual-srchost; triple-isolate, flows...)
#                                      exit 3 when sch_cake is missing in this kernel
#   uplink.sh qdisc none               no queue limit (veth at CPU speed)
#   uplink.sh stats                    qdisc statistics (JSON)
set -euo pipefail
cmd=${1:-up}
qdisc() {
    local kind=${1:-tbf} rate=${2:-8mbit} lat=${3:-200}
    tc qdisc del dev uplink0 root 2>/dev/null || true
    case $kind in
        tbf)      tc qdisc add dev uplink0 root tbf rate "$rate" burst 96kb latency "${lat}ms" ;;
        fq_codel) tc qdisc add dev uplink0 root handle 1: tbf rate "$rate" burst 96kb latency "${lat}ms"
                  tc qdisc add dev uplink0 parent 1:1 fq_codel ;;
        cake)     modprobe sch_cake 2>/dev/null || { echo "uplink.sh: no sch_cake module in $(uname -r)" >&2; exit 3; }
                  tc qdisc add dev uplink0 root cake bandwidth "$rate" "${3:-dual-srchost}" ;;
        none)     ;;
        *) echo "uplink.sh: unknown qdisc '$kind' (tbf|fq_codel|cake|none)" >&2; exit 2 ;;
    esac
}
case $cmd in
up)
    ip link add xenbr0 type bridge stp_state 0 forward_delay 0
    ip addr add 198.18.0.1/24 dev xenbr0
    ip link set xenbr0 up
    ip netns add sink
    ip link add uplink0 type veth peer name sinkif
    ip link set sinkif netns sink
    ip link set uplink0 master xenbr0 up
    ip -n sink addr add 198.18.0.100/24 dev sinkif
    ip -n sink link set sinkif up
    ip -n sink link set lo up
    qdisc tbf 8mbit 200
    printf '#!/bin/sh\nexec cat >/dev/null\n' > /lab/discard; chmod +x /lab/discard
    # TCP discard listeners: in dom0 (no bottleneck) and behind the uplink queue
    nc -ll -p 6000 -e /lab/discard </dev/null >/dev/null 2>&1 &
    ip netns exec sink nc -ll -p 6000 -e /lab/discard </dev/null >/dev/null 2>&1 &
    ;;
qdisc) shift; qdisc "$@"; tc qdisc show dev uplink0 ;;
stats) tc -j -s qdisc show dev uplink0 ;;
*) sed -n '2,21p' "$0"; exit 2 ;;
esac
