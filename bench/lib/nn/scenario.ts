/**
 * The noisy-neighbour scenarios of issue 14: what the two neighbours send while the victim pings.
 *
 *   a  domu2 one TCP bulk stream, domu3 a 1400-byte UDP flood to one port
 *   b  domu2 32 TCP bulk streams, domu3 a 1400-byte UDP flood over 64 ports: one neighbour with
 *      many flows, where per-flow fairness (fq_codel) gives a guest a share per flow, not per guest
 *
 * Pure: the scenario list, --scenario parsing, the file and section names a scenario writes, and
 * the guest shell commands that start the neighbours (busybox nc and the image's udpblast; the
 * sink's TCP discard listener on 6000 takes any number of connections, UDP to the sink counts
 * as Udp.NoPorts whatever the port).
 */

export const SCENARIO_NAMES = ['a', 'b'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Scenario {
  name: ScenarioName;
  /** what the neighbours send, one line */
  what: string;
  /** concurrent TCP bulk streams from the tcp neighbour to the sink's discard port */
  tcpStreams: number;
  /** destination ports of the udp neighbour's flood (one udpblast per port) */
  udpPorts: number[];
}

/** the sink behind the uplink (netns "sink" in dom0) */
export const SINK = '198.18.0.100';
/** payload of one flood datagram: full size, so the uplink queue, not the emulated CPU, is the bottleneck */
export const UDP_SIZE = 1400;
export const TCP_PORT = 6000;
const UDP_FIRST_PORT = 6001;

/** `count` consecutive ports from `first`. */
export function portRange(first: number, count: number): number[] {
  if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1 || first < 1 || first + count - 1 > 65_535) {
    throw new RangeError(`portRange: ${count} ports from ${first} do not fit in 1..65535`);
  }
  return Array.from({ length: count }, (_, i) => first + i);
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  a: { name: 'a', what: `one TCP bulk stream; a ${UDP_SIZE}-byte UDP flood to one port`, tcpStreams: 1, udpPorts: [UDP_FIRST_PORT] },
  b: { name: 'b', what: `32 TCP bulk streams; a ${UDP_SIZE}-byte UDP flood over 64 ports`, tcpStreams: 32, udpPorts: portRange(UDP_FIRST_PORT, 64) },
};

/** --scenario named a scenario that does not exist, or one that this mode cannot run. */
export class ScenarioError extends Error {
  constructor(detail: string) {
    super(`--scenario: ${detail} (scenarios: ${SCENARIO_NAMES.join(', ')}; b runs with --arms only)`);
    this.name = 'ScenarioError';
  }
}

export function parseScenario(value: string | undefined): Scenario {
  const v = (value ?? 'a').trim();
  if (!(SCENARIO_NAMES as readonly string[]).includes(v)) throw new ScenarioError(`unknown scenario '${v}'`);
  return SCENARIOS[v as ScenarioName];
}

export interface ScenarioNames {
  /** file stem of the JSON and plots: noisy-neighbour-<label>, or noisy-neighbour-<label>-<scenario> past (a) */
  stem: string;
  /** docs/BENCHMARKS.md section, the same as the stem */
  section: string;
  /** what the command line adds for this scenario ('' for (a), whose command is unchanged) */
  flag: string;
}

/** What a scenario adds to the names of what it writes: nothing for (a), which keeps its names; `-<letter>` for the others. */
export function scenarioSuffix(s: Scenario): string {
  return s.name === 'a' ? '' : `-${s.name}`;
}

/** Where a scenario's results go: (a) keeps the names it always had, the others add their letter. */
export function scenarioNames(label: string, s: Scenario): ScenarioNames {
  const stem = `noisy-neighbour-${label}${scenarioSuffix(s)}`;
  return { stem, section: stem, flag: s.name === 'a' ? '' : ` --scenario ${s.name}` };
}

/**
 * The neighbours' guest commands for `secs` seconds of load. Every command prints NNSTART when its
 * senders start and NNSTOP after the last one ended (`stamp` is the guest's clock read).
 * One stream / one port runs in the foreground, as scenario (a) always did. More start together:
 * a loop started one after the other in the guest's one (TCG) vCPU, beside the senders already
 * running, spreads their start over tens of seconds (45 s instead of 12 in the first lab run), and
 * a flood limited in netback blocks in sendto for longer than udpblast's own clock check. So each
 * sender is forked first and waits on a FIFO, all are released at once, and all are killed after
 * `secs` (each also has its own backstop: udpblast's SECS, nc under `timeout`).
 */
export function neighbourCommands(s: Scenario, secs: number, stamp: string): { tcp: string; udp: string } {
  const udpOne = (port: number | string, d: number): string => `udpblast ${SINK} ${port} ${d} ${UDP_SIZE}`;
  const [only] = s.udpPorts;
  const tcp = s.tcpStreams === 1
    ? `echo "NNSTART $(${stamp})"; timeout ${secs} nc ${SINK} ${TCP_PORT} < /dev/zero; echo "NNSTOP $(${stamp})"`
    : together('tcp', portRange(1, s.tcpStreams), `timeout ${secs + BACKSTOP_SECS} nc ${SINK} ${TCP_PORT} < /dev/zero 2>/dev/null`, secs, stamp);
  const udp = s.udpPorts.length === 1 && only !== undefined
    ? `echo "NNSTART $(${stamp})"; ${udpOne(only, secs)}; echo "NNSTOP $(${stamp})"`
    : together('udp', s.udpPorts, `${udpOne('$i', secs + BACKSTOP_SECS)} > /dev/null`, secs, stamp);
  return { tcp, udp };
}

/** how long after the kill a sender would stop by itself */
const BACKSTOP_SECS = 5;

/**
 * One sender per item ($i in `sender`), forked first, each blocked opening the FIFO; the shell opens
 * it read-write (which never blocks and releases every opener), sleeps `secs`, kills them all.
 */
function together(tag: string, items: number[], sender: string, secs: number, stamp: string): string {
  const go = `/tmp/.nn-go-${tag}`;
  return [
    `rm -f ${go}`, `mkfifo ${go}`, 'pids=',
    `for i in ${items.join(' ')}; do (: < ${go}; exec ${sender}) & pids="$pids $!"; done`,
    `echo "NNSTART $(${stamp})"`, `exec 3<>${go}`, `sleep ${secs}`, 'kill $pids 2>/dev/null', 'wait', 'exec 3>&-', `rm -f ${go}`,
    `echo "NNSTOP $(${stamp})"`,
  ].join('; ');
}
