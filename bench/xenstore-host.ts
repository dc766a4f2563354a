/**
 * xenstore read round trips/s on this host (no Xen): XenstoreClient against a
 * minimal raw client (bench/lib/xs-raw-client.mjs: one write per request, one
 * promise, nothing else) over the same unix socket to the same minimal server
 * (bench/lib/xs-echo-server.ts), which runs in its own process like xenstored.
 * The server either answers in one write, or header and payload in two
 * writes as C xenstored does ("split"). "memory" replaces the socket by an
 * in-process echo (reply on the next setImmediate): no kernel, so what is
 * left is each client's own JavaScript per request. Clients alternate within
 * each run; reads/s and this process's CPU time per read are medians.
 *
 *   node --import tsx bench/xenstore-host.ts [--reads 3000] [--runs 5] [--window 32] [--server split,whole,memory]
 *
 * Prints one JSON object; writes bench/results/xenstore-host.json and the
 * `xenstore-host` section of docs/BENCHMARKS.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { XenstoreClient } from '../src/xenstore/client.js';
import { connectUnixSocket, type XsTransport, type XsTransportHandlers } from '../src/xenstore/transport.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { echoReply } from './lib/xs-echo-server.js';
import { RawXsClient, type RawSocket } from './lib/xs-raw-client.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    reads: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '5' },
    window: { type: 'string', default: '32' },
    server: { type: 'string', default: 'split,whole,memory' },
    'no-write': { type: 'boolean', default: false },
  },
});
const READS = Number(opts.reads);
const RUNS = Number(opts.runs);
const WINDOW = Number(opts.window);
const MODES = (opts.server as string).split(',');
for (const m of MODES) if (!['split', 'whole', 'memory'].includes(m)) throw new Error(`--server ${m}: expected split, whole or memory`);
const VALUE = Buffer.from('x'.repeat(32));
const NODE_PATH = '/local/domain/0/vifq-bench/rtt';

interface Reader {
  read(path: string): Promise<unknown>;
}

/** Reads/s, and this process's CPU time (user + system, all threads) per read in µs. */
interface Phase {
  readsPerSec: number;
  cpuUsPerRead: number;
}

async function timed(n: number, body: () => Promise<void>): Promise<Phase> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await body();
  const ns = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  return { readsPerSec: Math.round(n / (ns / 1e9)), cpuUsPerRead: Number(((c.user + c.system) / n).toFixed(2)) };
}

function sequential(r: Reader, n: number): Promise<Phase> {
  return timed(n, async () => {
    for (let i = 0; i < n; i++) await r.read(NODE_PATH);
  });
}

function pipelined(r: Reader, n: number, window: number): Promise<Phase> {
  let next = 0;
  return timed(n, async () => {
    await Promise.all(
      Array.from({ length: Math.min(window, n) }, async () => {
        while (next < n) {
          next++;
          await r.read(NODE_PATH);
        }
      }),
    );
  });
}

async function startServer(socketPath: string, split: boolean): Promise<ChildProcess> {
  const child = fork(fileURLToPath(new URL('./lib/xs-echo-server.ts', import.meta.url)), [socketPath, ...(split ? ['--split'] : [])], {
    stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    child.stdout?.once('data', () => resolve());
  });
  return child;
}

/** Both clients connected to one server of `mode`; `stop()` closes them and the server. */
async function connectBoth(mode: string, socketPath: string): Promise<{ raw: Reader; vifq: Reader; stop(): Promise<void> }> {
  if (mode === 'memory') {
    let onRaw: ((chunk: Buffer) => void) | undefined;
    const rawSock: RawSocket = {
      on: (_event, listener) => (onRaw = listener),
      write: (bytes) => {
        const r = echoReply(bytes, 0, VALUE);
        setImmediate(() => onRaw?.(r));
      },
      destroy: () => undefined,
    };
    let handlers: XsTransportHandlers | undefined;
    const transport: XsTransport = {
      name: 'memory',
      start: (h) => (handlers = h),
      send: (bytes) => {
        const r = echoReply(bytes, 0, VALUE);
        setImmediate(() => handlers?.data(r));
      },
      close: () => handlers?.close('closed by client'),
    };
    const raw = new RawXsClient(rawSock);
    const xs = await XenstoreClient.open({ connector: async () => transport, reconnect: false });
    return {
      raw: { read: async (p) => (await raw.read(p)).toString('utf8') },
      vifq: xs,
      stop: () => xs.close(),
    };
  }
  const server = await startServer(socketPath, mode === 'split');
  const raw = await RawXsClient.connect(socketPath);
  const xs = await XenstoreClient.open({ connector: () => connectUnixSocket(socketPath), reconnect: false });
  return {
    raw: { read: async (p) => (await raw.read(p)).toString('utf8') },
    vifq: xs,
    stop: async () => {
      await xs.close();
      raw.close();
      server.stdin?.end();
      await new Promise((r) => server.once('exit', r));
    },
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const KEYS = ['rawSequential', 'vifqSequential', 'rawPipelined', 'vifqPipelined'] as const;
type Run = Record<(typeof KEYS)[number], Phase>;

const dir = mkdtempSync(join(tmpdir(), 'vifq-xs-bench-'));
interface ModeResult {
  runs: Run[];
  median: Run;
  /** vifq / raw: reads/s (higher is better) and CPU µs per read (lower is better). */
  ratio: { sequential: number; pipelined: number; sequentialCpu: number; pipelinedCpu: number };
}
const results: Record<string, ModeResult> = {};
try {
  for (const mode of MODES) {
    const { raw: rawReader, vifq: xs, stop } = await connectBoth(mode, join(dir, `socket-${mode}`));
    try {
      // Warm up both until the JIT is done with them: these figures are steady state.
      for (let i = 0; i < 3; i++) {
        await sequential(rawReader, 1000);
        await sequential(xs, 1000);
      }
      const runs: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        // Alternate which client goes first, so that neither always inherits the other's warm caches.
        const order: Array<[Reader, 'raw' | 'vifq']> = i % 2 === 0 ? [[rawReader, 'raw'], [xs, 'vifq']] : [[xs, 'vifq'], [rawReader, 'raw']];
        const run: Partial<Run> = {};
        for (const [r, name] of order) run[`${name}Sequential`] = await sequential(r, READS);
        for (const [r, name] of order) run[`${name}Pipelined`] = await pipelined(r, READS, WINDOW);
        runs.push(run as Run);
      }
      const m = Object.fromEntries(
        KEYS.map((k) => [k, { readsPerSec: median(runs.map((r) => r[k].readsPerSec)), cpuUsPerRead: median(runs.map((r) => r[k].cpuUsPerRead)) }]),
      ) as Run;
      const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));
      results[mode] = {
        runs,
        median: m,
        ratio: {
          sequential: ratio(m.vifqSequential.readsPerSec, m.rawSequential.readsPerSec),
          pipelined: ratio(m.vifqPipelined.readsPerSec, m.rawPipelined.readsPerSec),
          sequentialCpu: ratio(m.vifqSequential.cpuUsPerRead, m.rawSequential.cpuUsPerRead),
          pipelinedCpu: ratio(m.vifqPipelined.cpuUsPerRead, m.rawPipelined.cpuUsPerRead),
        },
      };
    } finally {
      await stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const argv = process.argv.slice(2).join(' ');
const command = `node --import tsx bench/xenstore-host.ts${argv ? ` ${argv}` : ''}`;
const doc = { benchmark: 'xenstore-host', command, date: new Date().toISOString(), node: process.version, reads: READS, runs: RUNS, window: WINDOW, servers: results };
process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);

if (!opts['no-write']) {
  writeFileSync(join(REPO, 'bench/results/xenstore-host.json'), `${JSON.stringify(doc, null, 2)}\n`);
  const rows = Object.entries(results)
    .map(([mode, r]) => {
      const how = {
        split: 'unix socket; header and payload in two writes, as C xenstored',
        whole: 'unix socket; each reply in one write',
        memory: 'no socket: in-process echo on the next setImmediate, the clients\' own JS cost',
      }[mode];
      const m = r.median;
      return [
        `| ${mode} (${how}) | raw minimal client, sequential | ${m.rawSequential.readsPerSec} | 1.00 | ${m.rawSequential.cpuUsPerRead} | 1.00 |`,
        `| | vifq \`XenstoreClient\`, sequential | ${m.vifqSequential.readsPerSec} | ${r.ratio.sequential.toFixed(2)} | ${m.vifqSequential.cpuUsPerRead} | ${r.ratio.sequentialCpu.toFixed(2)} |`,
        `| | raw minimal client, pipelined (window ${WINDOW}) | ${m.rawPipelined.readsPerSec} | 1.00 | ${m.rawPipelined.cpuUsPerRead} | 1.00 |`,
        `| | vifq \`XenstoreClient\`, pipelined (window ${WINDOW}) | ${m.vifqPipelined.readsPerSec} | ${r.ratio.pipelined.toFixed(2)} | ${m.vifqPipelined.cpuUsPerRead} | ${r.ratio.pipelinedCpu.toFixed(2)} |`,
      ].join('\n');
    })
    .join('\n');
  replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'xenstore-host', `
## xenstore round trips (host, minimal server)

\`${command}\` (${doc.date.slice(0, 10)}; node ${process.version}; raw: \`bench/results/xenstore-host.json\`)

A minimal server in its own process (bench/lib/xs-echo-server.ts) answers every read at once; our client
is compared with the least a Node client can do (bench/lib/xs-raw-client.mjs) over the same socket, in the same run
(steady state: both warmed up first; they alternate going first). CPU is this process's user + system time per read.

| server replies | client | reads/s (median of ${RUNS} × ${READS}) | ratio to raw | client CPU µs/read | ratio to raw |
|---|---|---|---|---|---|
${rows}
`);
}
