/**
 * xenstore -> SLA input: reads the nodes under a guest's or the host's vifq directory (value
 * bytes and permissions, recursively) and hands them to src/sla's parsers, and lists the vifs
 * dom0's backend knows. Only reads: the watches are the daemon's. A node that vanishes between
 * the directory listing and its read (a domain going away) is skipped, not an error.
 */
import { GUEST_BASE, HOST_BASE, parseGuestSla, parseHostSettings, type GuestSlaResult, type HostSettingsResult, type SlaNode } from '../sla/index.js';
import { XsNoEntryError, type XsPerms, type XsWatch, type XsWatchListener } from '../xenstore/index.js';

/** The part of `XenstoreClient` the service uses (the seam for tests). */
export interface ServiceXenstore {
  directory(path: string): Promise<string[]>;
  readBytes(path: string): Promise<Buffer>;
  getPerms(path: string): Promise<XsPerms>;
  watch(path: string, listener?: XsWatchListener): Promise<XsWatch>;
}

/** Where dom0's netback backend lists the vifs it serves: `<dir>/<domid>/<handle>`. */
export const BACKEND_VIF_DIR = '/local/domain/0/backend/vif';

/** Nodes deeper than this under a vifq directory are not read (a hostile guest cannot make us recurse far). */
const MAX_DEPTH = 4;
/** At most this many nodes per directory tree (a guest-writable tree could hold thousands). */
const MAX_NODES = 256;

async function absent<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof XsNoEntryError) return undefined;
    throw e;
  }
}

/** Every node of the tree at `base` (the directory itself included), or [] if it does not exist. */
export async function readTree(xs: ServiceXenstore, base: string): Promise<SlaNode[]> {
  const out: SlaNode[] = [];
  const visit = async (path: string, depth: number): Promise<void> => {
    if (out.length >= MAX_NODES) return;
    const [value, perms, kids] = await Promise.all([absent(xs.readBytes(path)), absent(xs.getPerms(path)), absent(xs.directory(path))]);
    if (value === undefined || perms === undefined || out.length >= MAX_NODES) return; // gone meanwhile, or enough
    out.push({ path, value, perms });
    if (depth >= MAX_DEPTH) return;
    // siblings in parallel: the client pipelines, so a tree costs its depth in round trips, not its size
    await Promise.all((kids ?? []).map((k) => visit(`${path}/${k}`, depth + 1)));
  };
  await visit(base, 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)); // stable order for the parsers' findings
}

export async function readGuestSla(xs: ServiceXenstore, domid: number): Promise<GuestSlaResult> {
  return parseGuestSla(domid, await readTree(xs, GUEST_BASE(domid)));
}

export async function readHostSettings(xs: ServiceXenstore): Promise<HostSettingsResult> {
  return parseHostSettings(await readTree(xs, HOST_BASE));
}

/** domid -> vif handles, as dom0's backend directory lists them. */
export async function listBackendVifs(xs: ServiceXenstore): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  const domids = (await absent(xs.directory(BACKEND_VIF_DIR))) ?? [];
  for (const d of domids) {
    if (!/^[1-9][0-9]{0,4}$/.test(d)) continue;
    const handles = (await absent(xs.directory(`${BACKEND_VIF_DIR}/${d}`))) ?? [];
    out.set(Number(d), handles.filter((h) => /^(0|[1-9][0-9]{0,9})$/.test(h)).map(Number));
  }
  return out;
}

/** The guest domid a watched path belongs to (`/local/domain/<d>/vifq...`), else undefined. */
export function guestOfPath(path: string): number | undefined {
  const m = /^\/local\/domain\/([1-9][0-9]{0,4})\/vifq(\/|$)/.exec(path);
  return m ? Number(m[1]) : undefined;
}
