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

/** How deep `path` lies under `base` (0 for base itself), or -1 if it is not at or under it. */
function depthUnder(base: string, path: string): number {
  if (path === base) return 0;
  if (!path.startsWith(`${base}/`)) return -1;
  return path.slice(base.length + 1).split('/').length;
}

/** One node's value and permissions (two requests in one socket write), or undefined if it is gone. */
async function readNode(xs: ServiceXenstore, path: string): Promise<SlaNode | undefined> {
  const [value, perms] = await Promise.all([absent(xs.readBytes(path)), absent(xs.getPerms(path))]);
  return value === undefined || perms === undefined ? undefined : { path, value, perms };
}

/** The nodes of the tree at `path` (itself included, if it exists), `path` lying `depth` below the tree's base. */
async function readFrom(xs: ServiceXenstore, path: string, depth: number): Promise<SlaNode[]> {
  const out: SlaNode[] = [];
  const visit = async (p: string, d: number): Promise<void> => {
    if (out.length >= MAX_NODES) return;
    const [node, kids] = await Promise.all([readNode(xs, p), absent(xs.directory(p))]);
    if (node === undefined || out.length >= MAX_NODES) return; // gone meanwhile, or enough
    out.push(node);
    if (d >= MAX_DEPTH) return;
    // siblings in parallel: the client pipelines, so a tree costs its depth in round trips, not its size
    await Promise.all((kids ?? []).map((k) => visit(`${p}/${k}`, d + 1)));
  };
  if (depth <= MAX_DEPTH) await visit(path, depth);
  return out;
}

const byPath = (a: SlaNode, b: SlaNode): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Every node of the tree at `base` (the directory itself included), or [] if it does not exist. */
export async function readTree(xs: ServiceXenstore, base: string): Promise<SlaNode[]> {
  return (await readFrom(xs, base, 0)).sort(byPath); // stable order for the parsers' findings
}

/**
 * A tree as last read, with only the parts a watch named read again: `changed` paths (watch
 * events under `base`) are each re-read with their subtree and replace what was known at and
 * under them, so one SLA write costs one round trip, not the tree's depth. A path that is not
 * under `base`, or `base` itself, reads the whole tree again.
 */
export async function rereadTree(xs: ServiceXenstore, base: string, known: readonly SlaNode[], changed: Iterable<string>): Promise<SlaNode[]> {
  const have = new Set(known.map((n) => n.path));
  // a node written under directories not read yet (xenstored creates them with it, and fires
  // the watch for the node alone): read from the highest one, so the directories are known too
  const upToKnown = (p: string): string => {
    let q = p;
    for (let parent = q.slice(0, q.lastIndexOf('/')); depthUnder(base, parent) > 0 && !have.has(parent); parent = q.slice(0, q.lastIndexOf('/'))) q = parent;
    return q;
  };
  const paths = [...new Set([...changed].map(upToKnown))].sort();
  if (paths.some((p) => depthUnder(base, p) <= 0) || !have.has(base)) return readTree(xs, base);
  // a path under another changed one is read with it
  const roots = paths.filter((p, i) => !paths.slice(0, i).some((q) => p.startsWith(`${q}/`)));
  // A known leaf whose event names only itself (the SLA write: a value or its permissions
  // changed) is read without listing its children: it had none at the last read, and a child
  // created since would have fired an event of its own (the watch is older than every read), so
  // `paths` would hold it. Saves xenstored a DIRECTORY per write, and the client one reply.
  const under = (p: string, ns: Iterable<string>): boolean => { for (const n of ns) if (n.startsWith(`${p}/`)) return true; return false; };
  const leaf = (p: string): boolean => have.has(p) && !under(p, have) && !under(p, paths);
  const fresh = await Promise.all(roots.map(async (p) => {
    if (!leaf(p)) return readFrom(xs, p, depthUnder(base, p));
    const n = await readNode(xs, p);
    return n === undefined ? [] : [n];
  }));
  const replaced = (path: string): boolean => roots.some((r) => path === r || path.startsWith(`${r}/`));
  const out = known.filter((n) => !replaced(n.path));
  for (const f of fresh) out.push(...f);
  return out.sort(byPath).slice(0, MAX_NODES);
}

export async function readGuestSla(xs: ServiceXenstore, domid: number): Promise<GuestSlaResult> {
  return parseGuestSla(domid, await readTree(xs, GUEST_BASE(domid)));
}

/** A guest's SLA and the nodes it was parsed from (for `rereadGuestSla`). */
export interface GuestSlaRead extends GuestSlaResult {
  readonly nodes: readonly SlaNode[];
}

/**
 * A guest's SLA, re-reading only the `changed` paths of the tree `known` (undefined or a path
 * outside the subtrees: the whole tree). Parsed from all of its nodes, as a full read would be.
 */
export async function rereadGuestSla(xs: ServiceXenstore, domid: number, known: readonly SlaNode[] | undefined, changed: Iterable<string> | 'all'): Promise<GuestSlaRead> {
  const base = GUEST_BASE(domid);
  const nodes = known === undefined || changed === 'all' ? await readTree(xs, base) : await rereadTree(xs, base, known, changed);
  return { ...parseGuestSla(domid, nodes), nodes };
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
