/**
 * Helpers for the lab tests of the patched netback (vifq): build the module,
 * talk to the vifq genl family through test/e2e/drivers/vifq-nl.mjs in dom0,
 * read a vif's ethtool counters, scan dmesg, and small statistics.
 *
 * Node starts slowly in dom0 under TCG (10-15 s with guests running), so the
 * driver is called as few times as possible: `nlBatch` runs several requests in
 * one process and `dump` returns every vif at once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { VifqVifComplete } from '../../src/vifq/types.js';
import { REPO, type Lab } from './lab.js';

export const DRIVER = 'node /vifq/test/e2e/drivers/vifq-nl.mjs';

/** The largest frame netback hands over: a 64 KiB GSO payload plus headers. */
export const MAX_PACKET = 65536 + 128;

/**
 * Builds the whole series of a kernel (kernel-patch/<series>) into
 * build/netback/vifq-<name>.ko (own tree dir per test file). The build is cached
 * under build/netback/cache/, keyed by everything it depends on (the series, the
 * build and kernel-resolving scripts, the pins and the kernel versions resolved), so
 * the lab files of one run build each series once.
 */
export function buildVifqModule(name: string, series = '6.1'): string {
  const out = join(REPO, 'build', 'netback', `vifq-${name}.ko`);
  const cachedAt = (): string => join(REPO, 'build', 'netback', 'cache', `vifq-${series}-${moduleBuildKey(series)}.ko`);
  let cached = cachedAt();
  if (!existsSync(cached)) {
    execFileSync(join(REPO, 'kernel-patch', 'build-module.sh'),
      ['--series', series, '--out', out, '--dir', join(REPO, 'build', 'netback', `vifq-tree-${name}`)], { stdio: ['ignore', 'ignore', 'inherit'] });
    cached = cachedAt(); // the build may have resolved the kernel (resolved-<series>.env) just now
    mkdirSync(dirname(cached), { recursive: true });
    copyFileSync(out, `${cached}.tmp`);
    renameSync(`${cached}.tmp`, cached);
  } else {
    copyFileSync(cached, out);
  }
  return out;
}

/** sha256 over the inputs of a module build of `series` (16 hex digits). */
function moduleBuildKey(series: string): string {
  const h = createHash('sha256');
  const seriesDir = join(REPO, 'kernel-patch', series);
  const inputs = [
    ...readdirSync(seriesDir).sort().map((f) => join(seriesDir, f)),
    join(REPO, 'kernel-patch', 'build-module.sh'),
    join(REPO, 'dom0-scripts', 'lab', 'kernel-env.sh'),
    join(REPO, 'dom0-scripts', 'lab', 'resolve-kernel.sh'),
    join(REPO, 'dom0-scripts', 'lab', 'kernels.conf'),
    join(REPO, 'build', 'kernels', `resolved-${series}.env`),
  ];
  for (const f of inputs) {
    h.update(f.slice(REPO.length)).update('\0');
    h.update(existsSync(f) ? readFileSync(f) : 'absent').update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

export interface NlError {
  error: { name?: string; code?: string; errno?: number; message?: string; extack?: { message?: string; offset?: number; policy: boolean } };
}

/** A vif as the driver prints it (JSON: counters are numbers), typed from the generated spec types. */
export type VifInfo = VifqVifComplete;

export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function parseLines(stdout: string): unknown[] {
  return stdout.trim().split('\n').filter((l) => l.startsWith('{') || l.startsWith('[')).map((l) => JSON.parse(l) as unknown);
}

/** Runs the driver once; returns its JSON output (an {error} object on a kernel error). */
export async function nl(lab: Lab, args: string, timeoutMs = 90_000): Promise<unknown> {
  const r = await lab.dom0(`${DRIVER} ${args}`, { timeoutMs });
  const out = parseLines(r.stdout);
  if (out.length === 0) throw new Error(`vifq-nl.mjs ${args}: no JSON output (exit ${r.code}): ${r.stderr.trim()}`);
  return out[out.length - 1];
}

/** Several requests in one node process: [["get",{...}],["raw","vif-get","0600..."]]. */
export async function nlBatch(lab: Lab, requests: unknown[][], opts: { asNobody?: boolean } = {}): Promise<unknown[]> {
  const r = await lab.dom0(`${DRIVER} batch ${shq(JSON.stringify(requests))}${opts.asNobody ? ' --as-nobody' : ''}`, { timeoutMs: 120_000 });
  const out = parseLines(r.stdout);
  if (out.length !== requests.length) {
    throw new Error(`vifq-nl.mjs batch: ${out.length} answers for ${requests.length} requests (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return out;
}

export async function dumpVifs(lab: Lab): Promise<VifInfo[]> {
  const out = await nl(lab, 'dump');
  if (!Array.isArray(out)) throw new Error(`vif-get dump failed: ${JSON.stringify(out)}`);
  return out as VifInfo[];
}

export function isError(x: unknown): x is NlError {
  return typeof x === 'object' && x !== null && 'error' in x;
}

/** ifindex of vif<domid>.0 in dom0. */
export async function ifindexOf(lab: Lab, domid: number): Promise<number> {
  return Number((await lab.dom0Ok(`cat /sys/class/net/vif${domid}.0/ifindex`)).trim());
}

/** Kernel messages that mean something went wrong (oops, WARN, BUG, refcount/KASAN style). */
export const DMESG_BAD = 'Oops|WARNING:|BUG:|BUG |general protection|Call Trace|refcount_t|use-after-free|list_(add|del) corruption|unreferenced object|kernel BUG';

/** Lines of dom0's dmesg matching DMESG_BAD ('' when clean). */
export async function dmesgProblems(lab: Lab): Promise<string> {
  return (await lab.dom0Ok(`dmesg | grep -E ${shq(DMESG_BAD)} || true`)).trim();
}

/** Shell snippet: the "tx_name: value" lines of vif<domid>.0's ethtool counters. */
export function ethtoolVq(domid: number): string {
  return `ethtool -S vif${domid}.0 | grep -E '^ +tx_'`;
}

/** "name: value" (or "name value") lines to numbers by name. */
export function parseEthtool(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.trim().split('\n')) {
    const m = /^\s*([a-z0-9_]+):?\s+(\d+)\s*$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Round-trip times (ms) from busybox/iputils ping output. */
export function pingTimes(text: string): number[] {
  return [...text.matchAll(/time=([0-9.]+) ms/g)].map((m) => Number(m[1]));
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] as number;
}

/** The JSON object printed on the line that starts with `tag ` in a script's output. */
export function tagged<T>(stdout: string, tag: string): T {
  const line = stdout.split('\n').find((l) => l.startsWith(`${tag} `));
  if (line === undefined) throw new Error(`no '${tag}' line in: ${stdout.slice(0, 400)}`);
  return JSON.parse(line.slice(tag.length + 1)) as T;
}
