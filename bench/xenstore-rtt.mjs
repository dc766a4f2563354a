#!/usr/bin/env node
// xenstore-rtt.mjs: xenstore read round trips per second against the real xenstored (run in dom0).
//   node /vifq/bench/xenstore-rtt.mjs [reads=2000] [window=32]
// Sequential: one read at a time. Pipelined: `window` reads in flight on one connection.
// Prints one JSON object.
import { XenstoreClient } from '../dist/xenstore/index.js';

const n = Number(process.argv[2] ?? 2000);
const window = Number(process.argv[3] ?? 32);
const node = '/local/domain/0/vifq-bench/rtt';

const c = await XenstoreClient.connect({ requestTimeoutMs: 30_000 });
await c.write(node, 'x'.repeat(32));
for (let i = 0; i < 100; i++) await c.read(node); // warm up

const lat = new Float64Array(n);
let t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const s = process.hrtime.bigint();
  await c.read(node);
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
      await c.read(node);
    }
  }),
);
const pipeNs = Number(process.hrtime.bigint() - t0);
await c.rm('/local/domain/0/vifq-bench');
await c.close();

console.log(
  JSON.stringify({
    bench: 'xenstore-rtt',
    reads: n,
    sequential: { readsPerSec: Math.round(n / (seqNs / 1e9)), p50Us: pct(50), p99Us: pct(99), maxUs: Math.round(lat[n - 1]) },
    pipelined: { window, readsPerSec: Math.round(n / (pipeNs / 1e9)) },
    node: process.version,
  }),
);
