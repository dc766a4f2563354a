/**
 * The measurement behind the transport decision in src/genl/README.md: our
 * vifq_nlsock addon vs npm `netlink` 0.3.0's RawNetlinkSocket, on the same
 * kernel in the same run. Needs root (netns probe) and the built addon.
 *
 * Run (from the repo root):
 *   npm run build:native && node --import tsx bench/genl-transport.ts
 * Prints one JSON object on stdout.
 */
import { GenlClient } from '../src/genl/genl.js';
import { NetlinkError } from '../src/netlink/errors.js';
import { attrString, encodeAttr } from '../src/netlink/wire.js';

const MS = Number(process.env.BENCH_MS ?? 700);

async function rate(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 50; i++) await fn();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < MS) {
    await fn();
    n++;
  }
  return Math.round((n * 1000) / (performance.now() - t0));
}

async function probe(prefer: 'native' | 'npm-netlink'): Promise<Record<string, unknown>> {
  const c = GenlClient.open({ prefer, timeoutMs: 3000 });
  try {
    const ethtool = await c.resolveFamily('ethtool');
    // ETHTOOL_MSG_LINKINFO_GET (2) for a device that does not exist: ENODEV + "no device matches name"
    const err = await c.request(ethtool.id, 2, 1, encodeAttr(1, attrString(2, 'nonexistent0'), true))
      .then(() => undefined, (e: unknown) => e as NetlinkError);
    let netns = false;
    try {
      GenlClient.open({ prefer, netns: '/proc/self/ns/net' }).close();
      netns = true;
    } catch { /* unsupported */ }
    const doPerSec = await rate(() => c.resolveFamily('netdev', { refresh: true }));
    const dumpPerSec = await rate(() => c.listFamilies());
    const families = (await c.listFamilies()).length;
    return {
      transport: c.conn.transport.kind,
      extackMessage: err?.extack.message ?? null,
      netnsSockets: netns,
      ctrlGetFamilyDoPerSec: doPerSec,
      ctrlDumpPerSec: dumpPerSec,
      familiesPerDump: families,
    };
  } finally {
    c.close();
  }
}

const native = await probe('native');
const npm = await probe('npm-netlink');
process.stdout.write(`${JSON.stringify({ bench: 'genl-transport', node: process.version, windowMs: MS, native, npm,
  doSpeedup: Number(((native.ctrlGetFamilyDoPerSec as number) / (npm.ctrlGetFamilyDoPerSec as number)).toFixed(2)),
  dumpSpeedup: Number(((native.ctrlDumpPerSec as number) / (npm.ctrlDumpPerSec as number)).toFixed(2)) }, null, 2)}\n`);
