// The noisy-neighbour scenarios (bench/lib/nn/scenario.ts): --scenario parsing, the file and
// section names per scenario (so (a) and (b) never overwrite each other), and the neighbours'
// guest commands: how many TCP streams and which UDP ports they start.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import {
  neighbourCommands, parseScenario, portRange, ScenarioError, SCENARIO_NAMES, SCENARIOS, scenarioNames, SINK, TCP_PORT, UDP_SIZE,
} from '../../bench/lib/nn/scenario.js';

const STAMP = 'date';

/** the sender command lines a neighbour's script starts, its loop expanded: one per stream/port */
function senders(script: string, tool: 'nc' | 'udpblast'): string[] {
  const loop = /for i in ([\d ]+); do \(: < (\S+); exec (.*?)\) & pids="\$pids \$!"; done/.exec(script);
  if (!loop) return script.split('; ').filter((c) => c.startsWith(tool === 'nc' ? 'timeout' : 'udpblast'));
  const [, list = '', , body = ''] = loop;
  return list.split(' ').map((x) => body.replaceAll('$i', x));
}

t.test('--scenario: a by default, b by name, anything else a typed error naming the choices', async (t) => {
  t.equal(parseScenario(undefined).name, 'a');
  t.equal(parseScenario('a'), SCENARIOS.a);
  t.equal(parseScenario(' b '), SCENARIOS.b);
  t.same([...SCENARIO_NAMES], ['a', 'b']);
  t.throws(() => parseScenario('c'), ScenarioError);
  t.throws(() => parseScenario('B'), /unknown scenario 'B'.*scenarios: a, b/);
});

t.test('scenario (b): at least 32 TCP streams and 64 distinct UDP ports, none the TCP port', async (t) => {
  const b = SCENARIOS.b;
  t.ok(b.tcpStreams >= 32, `${b.tcpStreams} streams`);
  t.equal(b.udpPorts.length, 64);
  t.equal(new Set(b.udpPorts).size, 64, 'distinct ports');
  t.notOk(b.udpPorts.includes(TCP_PORT));
  t.same(SCENARIOS.a, { name: 'a', what: SCENARIOS.a.what, tcpStreams: 1, udpPorts: [6001] });
  t.same(portRange(6001, 3), [6001, 6002, 6003]);
  t.throws(() => portRange(65_535, 2), RangeError, 'past 65535');
  t.throws(() => portRange(6001, 0), RangeError);
});

t.test('names: (a) keeps its files and section, (b) adds -b, labels never collide', async (t) => {
  t.same(scenarioNames('arms', SCENARIOS.a), { stem: 'noisy-neighbour-arms', section: 'noisy-neighbour-arms', flag: '' });
  t.same(scenarioNames('arms', SCENARIOS.b), { stem: 'noisy-neighbour-arms-b', section: 'noisy-neighbour-arms-b', flag: ' --scenario b' });
  t.equal(scenarioNames('short', SCENARIOS.b).stem, 'noisy-neighbour-short-b');
  const stems = ['arms', 'demo', 'short'].flatMap((l) => SCENARIO_NAMES.map((s) => scenarioNames(l, SCENARIOS[s]).stem));
  t.equal(new Set(stems).size, stems.length);
});

t.test('commands (a): the one stream and the one port, in the foreground, as before', async (t) => {
  const c = neighbourCommands(SCENARIOS.a, 12, STAMP);
  t.equal(c.tcp, `echo "NNSTART $(date)"; timeout 12 nc ${SINK} 6000 < /dev/zero; echo "NNSTOP $(date)"`);
  t.equal(c.udp, `echo "NNSTART $(date)"; udpblast ${SINK} 6001 12 ${UDP_SIZE}; echo "NNSTOP $(date)"`);
});

t.test('commands (b): 32 streams to the discard port, one flood per port, started together, killed after the load', async (t) => {
  const c = neighbourCommands(SCENARIOS.b, 12, STAMP);
  const tcp = senders(c.tcp, 'nc');
  t.equal(tcp.length, 32);
  t.ok(tcp.every((x) => x === `timeout 17 nc ${SINK} ${TCP_PORT} < /dev/zero 2>/dev/null`), 'each stream has a backstop past the kill');
  const udp = senders(c.udp, 'udpblast');
  t.same(udp.map((x) => Number(x.split(' ')[2])), SCENARIOS.b.udpPorts, 'one udpblast per port');
  t.ok(udp.every((x) => x.startsWith(`udpblast ${SINK} `) && x.endsWith(` 17 ${UDP_SIZE} > /dev/null`)));
  for (const [s, go] of [[c.tcp, '/tmp/.nn-go-tcp'], [c.udp, '/tmp/.nn-go-udp']] as const) {
    const steps = s.split('; ');
    const at = (step: string): number => steps.indexOf(step);
    t.ok(at(`mkfifo ${go}`) >= 0 && at(`mkfifo ${go}`) < steps.findIndex((x) => x.startsWith('for i in')), 'the FIFO exists before a sender waits on it');
    t.ok(steps.findIndex((x) => x.startsWith('echo "NNSTART')) < at(`exec 3<>${go}`), 'NNSTART just before the release');
    t.ok(at(`exec 3<>${go}`) < at('sleep 12') && at('sleep 12') < at('kill $pids 2>/dev/null') && at('kill $pids 2>/dev/null') < at('wait'),
      'released, then the load time, then every sender killed and waited for');
    t.match(s, /; wait; exec 3>&-; rm -f \S+; echo "NNSTOP \$\(date\)"$/, 'the stop stamp after the last sender ended');
    t.doesNotThrow(() => execFileSync('sh', ['-n', '-c', s]), 'valid sh');
  }
  t.notMatch(c.tcp, /nn-go-udp/, 'one guest can run both neighbours: their FIFOs apart');
});
