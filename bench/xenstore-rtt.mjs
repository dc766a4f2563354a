#!/usr/bin/env node
// xenstore-rtt.mjs: xenstore read round trips per second against the real xenstored (run in dom0).
//   node /vifq/bench/xenstore-rtt.mjs [reads=2000] [window=32]
// Sequential: one read at a time. Pipelined: `window` reads in flight on one connection.
// `rawNode` is the same measurement with bench/lib/xs-raw-client.mjs (the least a Node
// client can do per request) on its own connection to the same socket, in the same run:
// the gap between it and libxenstore is Node's, the gap between it and `sequential` is ours.
// Prints one JSON object.
import { existsSync } from 'node:fs';
import { XenstoreClient } from '../dist/xenstore/index.js';
import { RawXsClient } from './lib/xs-raw-client.mjs';

const n = Number(process.argv[2] ?? 2000);
const window = Number(process.argv[3] ?? 32);
const node = '/local/domain/0/vifq-bench/rtt';
// What XenstoreClient's default connector picks: the socket when it exists, else the device.
const socketPath = process.env.XENSTORED_PATH ?? '/run/xenstored/socket';
const transport = existsSync(socketPath) ? socketPath : '/dev/xen/xenbus';

async function measure(read) {
  const lat = new Float64Array(n);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await read(node);
    lat[i] = Number(process.hrtime.bigint() - s) / 1e3;
  }
  const seqNs = Number(process.hrtime.bigint() - t0);
  lat.sort();
  const pct = (p) => Math.round(lat[Math.min(n - 1, Math.floor((p / 100) * n))]);

  t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(window, n) }, async () => {
      while (next < n) {
        next++;
        await read(node);
      }
    }),
  );
  const pipeNs = Number(process.hrtime.bigint() - t0);
  return {
    sequential: { readsPerSec: Math.round(n / (seqNs / 1e9)), p50Us: pct(50), p99Us: pct(99), maxUs: Math.round(lat[n - 1]) },
    pipelined: { window, readsPerSec: Math.round(n / (pipeNs / 1e9)) },
  };
}

const c = await XenstoreClient.open({ timeoutMs: 30_000 });
await c.write(node, 'x'.repeat(32));
const raw = transport === socketPath ? await RawXsClient.connect(socketPath) : undefined;
const vifqRead = (p) => c.read(p);
const rawRead = async (p) => (await raw.read(p)).toString('utf8');
// warm up both before measuring either, so that neither pays more of the JIT's work
for (let i = 0; i < 200; i++) await vifqRead(node);
if (raw) for (let i = 0; i < 200; i++) await rawRead(node);
const ours = await measure(vifqRead);
const rawNode = raw ? await measure(rawRead) : null;
raw?.close();
await c.rm('/local/domain/0/vifq-bench');
await c.close();

console.log(
  JSON.stringify({
    bench: 'xenstore-rtt',
    reads: n,
    ...ours,
    rawNode,
    transport,
    node: process.version,
  }),
);
