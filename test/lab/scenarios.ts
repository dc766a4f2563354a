/**
 * Traffic scenarios of the patched-netback lab tests, shared by the test files of
 * both kernel series: mixed bulk traffic followed by each guest's netfront
 * counters, a flood phase with pending sampled and a victim pinging, and the
 * kernel's own ynl CLI. They return data; the test files make the assertions.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO, type Guest, type Lab } from './lab.js';
import { ethtoolVq, parseEthtool, pingTimes, shq, tagged } from './vifq.js';
import { encodeAttr } from '../../src/netlink/wire.js';
import type { TwoVifSample } from './vif-samples.js';

export interface NetfrontTx {
  packets: number;
  bytes: number;
}

export interface BulkResult {
  code: number;
  stderr: string;
  /** per domid: netfront's tx counters once the guest's vif was quiet (missing: never stored) */
  netfront: Map<number, NetfrontTx>;
}

/**
 * Every guest at once: TCP (GSO) to the sink through the uplink queue, UDP 1400 B,
 * 40-byte UDP, TCP to dom0's own listener; a packet tap on the bridge meanwhile.
 * Then a background job in each guest waits until its vif is quiet (tx_packets
 * unchanged for 4 s, past the gexec reply, and no TCP connection to :6000 left but
 * TIME_WAIT: a killed nc's socket still drains and retransmits through the full
 * uplink queue) and stores netfront's tx counters in its xenstore data/vifq-tx
 * (xenbus, not the vif). IPv6 off first: the guest kernel's router solicitations
 * (70-byte frames, sent with exponential backoff for as long as no router
 * answers) would land between the guest's snapshot and dom0's dump.
 */
export async function bulkTrafficThenQuiet(lab: Lab, guests: Guest[] = lab.guests): Promise<BulkResult> {
  const traffic = `for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 > $f; done 2>/dev/null
timeout 6 nc 198.18.0.100 6000 </dev/zero 2>/dev/null
udpblast 198.18.0.100 9 2 1400 1500 >/dev/null
udpblast 198.18.0.100 9 2 40 3000 >/dev/null
timeout 4 nc 198.18.0.1 6000 </dev/zero 2>/dev/null
(s=/sys/class/net/eth0/statistics; last=x; quiet=0; n=0
 while [ $quiet -lt 4 ] && [ $n -lt 40 ]; do
   sleep 1; n=$((n + 1)); now=$(cat $s/tx_packets)
   if [ "$now" = "$last" ] && ! awk 'NR>1 && $3 ~ /:1770$/ && $4 != "06" {f=1} END {exit !f}' /proc/net/tcp; then quiet=$((quiet + 1)); else quiet=0; fi
   last=$now
 done
 xenstore-write data/vifq-tx "$(cat $s/tx_packets) $(cat $s/tx_bytes)") </dev/null >/dev/null 2>&1 &
echo started`;
  const domids = guests.map((g) => g.domid).join(' ');
  const script = guests.map((g) => `xenstore-rm /local/domain/${g.domid}/data/vifq-tx 2>/dev/null
/lab/gexec ${g.ip} ${shq(traffic)} > /tmp/cnt-${g.n}.out 2>&1 & pids="$pids $!"`).join('\n');
  const r = await lab.dom0(`timeout 40 tcpdump -i xenbr0 -w /dev/null 2>/tmp/tcpdump.err & tp=$!
pids=""
${script}
wait $pids
for d in ${domids}; do
  for i in $(seq 500); do xenstore-read /local/domain/$d/data/vifq-tx >/dev/null 2>&1 && break; sleep 0.1; done
done
sleep 1
kill $tp 2>/dev/null
for d in ${domids}; do echo "tx $d $(xenstore-read /local/domain/$d/data/vifq-tx)"; done
cat /tmp/cnt-*.out`, { timeoutMs: 150_000 });
  const netfront = new Map<number, NetfrontTx>();
  for (const m of r.stdout.matchAll(/^tx (\d+) (\d+) (\d+)$/gm)) {
    netfront.set(Number(m[1]), { packets: Number(m[2]), bytes: Number(m[3]) });
  }
  return { code: r.code, stderr: r.stderr, netfront };
}

/** Pending statistics of one vif over a sampling run (test/e2e/drivers/vifq-nl.mjs sample). */
export interface PendingSamples {
  samples: number;
  maxPendingBytes: number;
  maxPendingPackets: number;
  nonZero: number;
  medianNonZeroBytes: number;
}

export interface FloodPhase {
  /** the victim's ping round-trip times, ms */
  rtt: number[];
  /** datagrams the floods sent */
  sent: number;
  /** by ifindex (as a string) */
  samples: Record<string, PendingSamples>;
  /** ethtool counters of the first flooding guest's vif before and after */
  before: Record<string, number>;
  after: Record<string, number>;
}

export interface FloodPhaseOptions {
  victim: Guest;
  floods: Guest[];
  /** ifindexes whose pending bytes/packets are sampled over genl during the phase */
  sample: number[];
}

function taggedCounters(stdout: string, tag: string): Record<string, number> {
  return parseEthtool(stdout.split('\n').filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1)).join('\n'));
}

/** The floods send 1400-byte UDP to the sink for 14 s while pending is sampled and the victim pings it 80 times. */
export async function floodPhase(lab: Lab, o: FloodPhaseOptions): Promise<FloodPhase> {
  const first = o.floods[0];
  if (!first) throw new Error('floodPhase: no flooding guest');
  const floods = o.floods.map((g) => `/lab/gexec ${g.ip} 'udpblast 198.18.0.100 9 14 1400' > /tmp/flood${g.n}.out 2>&1 & fp="$fp $!"`).join('\n');
  const r = await lab.dom0(`rm -f /tmp/sample.ready
${ethtoolVq(first.domid)} | sed 's/^/before /'
node /vifq/test/e2e/drivers/vifq-nl.mjs sample ${o.sample.join(',')} 13 /tmp/sample.ready > /tmp/sample.json &
sp=$!
for i in $(seq 600); do [ -e /tmp/sample.ready ] && break; sleep 0.1; done
fp=""
${floods}
sleep 3
/lab/gexec ${o.victim.ip} 'ping -i 0.1 -c 80 -W 3 198.18.0.100' > /tmp/ping.out 2>&1
wait $sp $fp
${ethtoolVq(first.domid)} | sed 's/^/after /'
echo "samples $(cat /tmp/sample.json)"
echo "sent $(cat ${o.floods.map((g) => `/tmp/flood${g.n}.out`).join(' ')} | awk '/^sent/{s+=$2} END {print s+0}')"
cat /tmp/ping.out`, { timeoutMs: 150_000 });
  if (r.code !== 0) throw new Error(`flood phase failed (${r.code}): ${r.stderr}`);
  return {
    rtt: pingTimes(r.stdout),
    sent: Number(/^sent (\d+)/m.exec(r.stdout)?.[1] ?? 0),
    samples: tagged<Record<string, PendingSamples>>(r.stdout, 'samples'),
    before: taggedCounters(r.stdout, 'before'),
    after: taggedCounters(r.stdout, 'after'),
  };
}

/**
 * Unpacks tools/net/ynl of the pinned 6.12 linux-source into build/ynl (once; the kernel checks
 * do the same), so that YNL_CLI works in a lab file run on its own or before the kernel checks.
 */
export function ensureYnlCli(): void {
  execFileSync(join(REPO, 'kernel-patch', 'ynl-gen.sh'), ['--fetch-tools'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The host's python in dom0 (over 9p: dom0 has none of its own). */
export const HOST_PYTHON = 'env LD_LIBRARY_PATH=/mnt/hostusr/lib/x86_64-linux-gnu PYTHONHOME=/mnt/hostusr /mnt/hostusr/bin/python3.11';

/** The kernel's own tools/net/ynl/cli.py in dom0, on the vifq spec. */
export const YNL_CLI = `${HOST_PYTHON} /vifq/build/ynl/linux-source-6.12/tools/net/ynl/cli.py --no-schema \
    --spec /vifq/kernel-patch/vifq.yaml`;

export interface SplitDump {
  /** the ifindexes of each part of the dump, and whether the part carried NLM_F_DUMP_INTR */
  parts: number[][];
  intr: boolean[];
  /** every vif's ifindex before the detach, and the detached vif's */
  before: number[];
  removed: number;
  code: number;
  stderr: string;
}

/**
 * Guest n gets `extra` more vifs (xl network-attach), then a vif-get dump is read part by part
 * (drivers/vifq-dump-split.py); its first extra vif is detached between the request, whose first
 * part the kernel builds at once, and the first read.
 */
export async function dumpWhileDetaching(lab: Lab, n: number, extra: number): Promise<SplitDump> {
  const g = lab.guestInfo(n);
  const r = await lab.dom0(`set -e
for i in $(seq ${extra}); do xl network-attach ${g.name} bridge=xenbr0; done
for k in $(seq 300); do [ "$(ls /sys/class/net | grep -c '^vif${g.domid}\.')" -gt ${extra} ] && break; sleep 0.1; done
echo "before $(cat /sys/class/net/vif*/ifindex | sort -n | tr '\n' ' ')"
echo "removed $(cat /sys/class/net/vif${g.domid}.1/ifindex)"
rm -f /tmp/dump.sent /tmp/dump.go
${HOST_PYTHON} /vifq/test/e2e/drivers/vifq-dump-split.py /tmp/dump.sent /tmp/dump.go > /tmp/dump.json 2> /tmp/dump.err &
p=$!
for k in $(seq 600); do [ -e /tmp/dump.sent ] && break; sleep 0.1; done
xl network-detach ${g.name} 1
for k in $(seq 300); do [ -e /sys/class/net/vif${g.domid}.1 ] || break; sleep 0.1; done
touch /tmp/dump.go
set +e
wait $p; echo "rc $?"
echo "dump $(cat /tmp/dump.json)"
cat /tmp/dump.err >&2`, { timeoutMs: 240_000 });
  const num = (tag: string): number[] => (new RegExp(`^${tag} (.*)$`, 'm').exec(r.stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  let dump: { parts?: number[][]; intr?: boolean[] } = {};
  try {
    dump = tagged<typeof dump>(r.stdout, 'dump');
  } catch {
    // no JSON: the script failed, as code and stderr say
  }
  return {
    parts: dump.parts ?? [],
    intr: dump.intr ?? [],
    before: num('before'),
    removed: num('removed')[0] ?? -1,
    code: r.code === 0 ? Number(/^rc (\d+)$/m.exec(r.stdout)?.[1] ?? -1) : r.code,
    stderr: r.stderr,
  };
}

/** `cli.py --dump vif-get` in dom0 (call ensureYnlCli() first, on the host). */
export async function ynlCliDumpVifs(lab: Lab): Promise<{ code: number; stdout: string; stderr: string }> {
  return lab.dom0(`${YNL_CLI} --dump vif-get`, { timeoutMs: 120_000 });
}

/** A release report entry as cli.py prints it (pprint of a dict): the counters the test reads. */
export interface CliReportEntry { domid: number; ifindex: number; bytes: number; packets: number }

/** The report entries in cli.py's --subscribe output: its innermost dicts that have a domid. */
export function parseCliReportEntries(stdout: string): CliReportEntry[] {
  const num = (s: string, k: string): number => Number(new RegExp(`'${k}': (\\d+)`).exec(s)?.[1] ?? NaN);
  return (stdout.match(/\{[^{}]*\}/g) ?? [])
    .filter((d) => d.includes("'domid'") && d.includes("'bytes'"))
    .map((d) => ({ domid: num(d, 'domid'), ifindex: num(d, 'ifindex'), bytes: num(d, 'bytes'), packets: num(d, 'packets') }));
}

export interface FloodDestroy {
  code: number;
  stderr: string;
  /** the vif's tx_inflight_packets just before xl destroy (-1: not read) */
  pending: number;
  /** vif<domid>.* netdevs left after the destroy */
  netdevsLeft: number;
  /** backend/vif/<domid> still in xenstore after the destroy */
  backendLeft: boolean;
}

/**
 * Guest n floods the sink with 1400-byte datagrams; once its vif has packets in
 * flight (at most 10 s), `guests.sh destroy n` (xl destroy, then wait for the
 * backend and the netdev to go). Reports what was pending and what was left.
 */
export async function destroyWhileFlooding(lab: Lab, n: number): Promise<FloodDestroy> {
  const g = lab.guestInfo(n);
  const r = await lab.dom0(`/lab/gexec ${g.ip} 'udpblast 198.18.0.100 9 120 1400 </dev/null >/dev/null 2>&1 &'
for i in $(seq 100); do p=$(ethtool -S vif${g.domid}.0 | awk '/tx_inflight_packets/{print $2}'); [ "\${p:-0}" -gt 0 ] && break; sleep 0.1; done
echo "pending $(ethtool -S vif${g.domid}.0 | awk '/tx_inflight_packets/{print $2}')"
/lab/guests.sh destroy ${n} || exit
echo "netdevs $(ls /sys/class/net | grep -c "^vif${g.domid}\\." || true)"
xenstore-exists /local/domain/0/backend/vif/${g.domid} && echo backend-left || true`, { timeoutMs: 120_000 });
  return {
    code: r.code,
    stderr: r.stderr,
    pending: Number(/^pending (\d+)$/m.exec(r.stdout)?.[1] ?? -1),
    netdevsLeft: Number(/^netdevs (\d+)$/m.exec(r.stdout)?.[1] ?? -1),
    backendLeft: /^backend-left$/m.test(r.stdout),
  };
}

export interface PausedPeer {
  /** the sender's pings to the sink while the paused peer held its packets: sent and answered */
  pings: number;
  answered: number;
  /** the sender's ethtool counters after the pings */
  after: Record<string, number>;
  stdout: string;
  stderr: string;
}

/**
 * Guest `from`, limited by the caller, floods paused guest `to` with 1400-byte UDP (`xl pause`:
 * it posts no RX buffers) and pings the sink 25 times at 5/s in the background; read once the
 * pings are done (before the peer's 10 s rx_drain_timeout frees its queue). Then `to` is
 * unpaused and the flood stopped. The sender's TX may be stalled meanwhile, so nothing waits
 * for an answer from it until the peer runs again.
 */
export async function floodPausedPeer(lab: Lab, from: Guest, to: Guest): Promise<PausedPeer> {
  // one detached script in the sender, started before its flood can stall its own TX (the
  // answer of gexec leaves through it too)
  const inSender = `(sleep 1; udpblast ${to.ip} 9 30 1400 & sleep 2; ping -c 25 -i 0.2 -W 1 198.18.0.100 >/tmp/pp.out 2>&1) </dev/null >/dev/null 2>&1 &`;
  const r = await lab.dom0(`set -e
mac=$(/lab/gexec ${to.ip} 'cat /sys/class/net/eth0/address')
/lab/gexec ${from.ip} "ip neigh replace ${to.ip} lladdr $mac dev eth0 nud permanent; ping -c 1 -W 2 ${to.ip} >/dev/null; rm -f /tmp/pp.out"
xl pause ${to.name}
/lab/gexec ${from.ip} '${inSender}'
sleep 9
${ethtoolVq(from.domid)} | sed 's/^/after /'
xl unpause ${to.name}
set +e
for i in $(seq 30); do out=$(timeout 5 /lab/gexec ${from.ip} 'killall udpblast; cat /tmp/pp.out') && break; sleep 1; done
printf '%s\n' "$out" | sed 's/^/ping /'`, { timeoutMs: 180_000 });
  const ping = r.stdout.split('\n').filter((l) => l.startsWith('ping ')).map((l) => l.slice(5)).join('\n');
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(ping);
  return { pings: Number(m?.[1] ?? 0), answered: Number(m?.[2] ?? -1), after: taggedCounters(r.stdout, 'after'), stdout: r.stdout, stderr: r.stderr };
}

/** `rmmod xen_netback`: its exit status and whether the module is still loaded afterwards. */
export async function unloadNetback(lab: Lab): Promise<{ rc: number; stillLoaded: boolean; stderr: string }> {
  const r = await lab.dom0('rmmod xen_netback; echo "rc $?"; echo "loaded $(lsmod | grep -c "^xen_netback" || true)"', { timeoutMs: 60_000 });
  return {
    rc: Number(/^rc (\d+)$/m.exec(r.stdout)?.[1] ?? -1),
    stillLoaded: !/^loaded 0$/m.test(r.stdout),
    stderr: r.stderr.trim(),
  };
}

/**
 * With xen_netback unloaded: load /lab/xen-netback.ko with tx_acct_entries=1 and read the
 * parameter back, reload with a junk value (must be refused), then load it without the
 * parameter and read the default. code: 0, or 3-6 for the step that failed.
 */
export async function acctEntriesReadBack(lab: Lab): Promise<{ code: number; small: number; deflt: number; stderr: string; stdout: string }> {
  const r = await lab.dom0(`insmod /lab/xen-netback.ko tx_acct_entries=1 || exit 3
echo "small $(cat /sys/module/xen_netback/parameters/tx_acct_entries)"
rmmod xen_netback || exit 4
insmod /lab/xen-netback.ko tx_acct_entries=junk 2>/dev/null && exit 5
insmod /lab/xen-netback.ko || exit 6
echo "default $(cat /sys/module/xen_netback/parameters/tx_acct_entries)"`, { timeoutMs: 120_000 });
  return {
    code: r.code,
    small: Number(/^small (\d+)$/m.exec(r.stdout)?.[1] ?? -1),
    deflt: Number(/^default (\d+)$/m.exec(r.stdout)?.[1] ?? -1),
    stderr: r.stderr.trim(),
    stdout: r.stdout.trim(),
  };
}

/** One netlink attribute on the wire, as hex (raw requests bypass the YNL codec and its checks). */
export function nlAttr(type: number, payloadHex: string): string {
  return encodeAttr(type, Buffer.from(payloadHex, 'hex')).toString('hex');
}

/** A u32 attribute's payload, as hex. */
export function le32(n: number): string {
  const b = Buffer.alloc(4); b.writeUInt32LE(n); return b.toString('hex');
}

/**
 * vif-set requests (for nlBatch) with limits the kernel must refuse with ERANGE, sent raw
 * because the project's codec refuses them first: limit-packets 2^32 - 1 (which froze the vif's
 * TX when the limits were compared signed) and limit-bytes 2^31.
 */
export function overRangeLimitRequests(ifindex: number): { what: string; request: unknown[] }[] {
  const IFINDEX = 1, LIMIT_BYTES = 5, LIMIT_PACKETS = 6;
  return [
    { what: 'limit-packets 4294967295', request: ['raw', 'vif-set', nlAttr(IFINDEX, le32(ifindex)) + nlAttr(LIMIT_PACKETS, le32(4294967295))] },
    { what: 'limit-bytes 2^31', request: ['raw', 'vif-set', nlAttr(IFINDEX, le32(ifindex)) + nlAttr(LIMIT_BYTES, le32(2147483648))] },
  ];
}

export interface WeightedBulk {
  code: number;
  stderr: string;
  samples: TwoVifSample[];
}

/**
 * Two guests bulk-send TCP to the sink (`streams` nc streams each, /dev/zero) while dom0 reads
 * both vifs' rx_bytes about every 0.1 s (bash builtins only: the pause is `read -t` on a FIFO
 * nobody writes, as in the lab agent; a forked `sleep` made it one reading per ~0.3 s under load).
 * The heavy guest's streams end after `heavySecs` (its socket buffers still drain after that); once
 * its vif has sent < 1000 B in 1 s, dom0 reads on for `afterSecs` and then stops the light guest's
 * streams. Under vifq nothing is dropped in dom0 (pending is bounded far
 * below the uplink queue), so what a guest sent into dom0 is what left the uplink for it.
 */
export async function weightedBulk(lab: Lab, light: Guest, heavy: Guest, o: { heavySecs: number; afterSecs: number; streams: number }): Promise<WeightedBulk> {
  // busybox timeout execs nc in its own process: $! is nc, which the light guest's stop kills
  // (by pid: a killall would take the guest's labsh listener with it)
  const bulk = (secs: number): string => `rm -f /tmp/wb.pids; for i in ${Array.from({ length: o.streams }, (_, i) => i + 1).join(' ')}; do timeout ${secs} nc 198.18.0.100 6000 </dev/zero & echo $! >> /tmp/wb.pids; done; wait; true`;
  const maxReadings = (o.heavySecs + o.afterSecs + 60) * 10;
  const r = await lab.dom0(`rm -f /tmp/wb-heavy.done
sl=/sys/class/net/vif${light.domid}.0/statistics/rx_bytes; sh=/sys/class/net/vif${heavy.domid}.0/statistics/rx_bytes
/lab/gexec ${light.ip} ${shq(bulk(o.heavySecs + o.afterSecs + 90))} >/dev/null 2>&1 & lp=$!
/lab/gexec ${heavy.ip} ${shq(bulk(o.heavySecs))} >/dev/null 2>&1 && touch /tmp/wb-heavy.done & hp=$!
rm -f /tmp/wb.pause; mkfifo /tmp/wb.pause && exec {pause}<>/tmp/wb.pause || exit 3
# times in centiseconds of uptime; quiet: the heavy vif's bytes since qb, stable since qs
qb=-1; qs=0; end=-1
for n in $(seq ${maxReadings}); do
  read up _ < /proc/uptime; read a < $sl; read b < $sh
  echo "s $up $a $b"
  cs=\${up/./}; cs=$((10#$cs))
  if [ -e /tmp/wb-heavy.done ] && [ $end -lt 0 ]; then
    if [ $qb -lt 0 ] || [ $((b - qb)) -ge 1000 ]; then qb=$b; qs=$cs; fi
    [ $((cs - qs)) -ge 100 ] && end=$((cs + ${o.afterSecs} * 100))
  fi
  [ $end -ge 0 ] && [ $cs -ge $end ] && break
  read -r -t 0.1 -u $pause _
done
/lab/gexec ${light.ip} 'kill $(cat /tmp/wb.pids) 2>/dev/null; true' >/dev/null 2>&1
wait $lp $hp 2>/dev/null
[ -e /tmp/wb-heavy.done ] || echo "the heavy guest's streams did not end" >&2`, { timeoutMs: (o.heavySecs + o.afterSecs + 150) * 1000 });
  const samples = [...r.stdout.matchAll(/^s ([0-9.]+) (\d+) (\d+)$/gm)].map((m) => ({ t: Number(m[1]), light: Number(m[2]), heavy: Number(m[3]) }));
  return { code: r.code, stderr: r.stderr.trim(), samples };
}
