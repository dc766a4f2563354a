/**
 * Which uplink each Xen vif reaches, computed from the link table. Pure.
 *
 *   vif --port of--> bridge (or the OVS datapath) --port--> uplink(s)
 *
 * A vif is identified as the kernel's vifq family names it (ifindex, domid, handle from
 * `vif-get`) when the caller supplies that; otherwise by its `vif<domid>.<handle>` name (a vif
 * renamed with xl's `vifname=` is only found the first way).
 *
 * An uplink is a port of the vif's bridge that is not a vif, a tap/tun (HVM `vifX.Y-emu`,
 * qemu taps), a loopback or an OVS internal port: a physical NIC, a bond, a VLAN device, a
 * veth... Its id is stable across reboots and unrelated changes: `mac:<permanent address>`
 * for a real NIC (survives renames), else `name:<ifname>`. Vifs reaching the same uplinks
 * share a `group`: their uplink ids, sorted, joined with `+` ('' when none: no bridge, or a
 * bridge without uplink, e.g. routed setups). Adding a vif or an unrelated uplink elsewhere
 * changes no group.
 *
 * Open vSwitch: every OVS bridge's ports have the one kernel datapath (`ovs-system`, kind
 * `openvswitch`) as IFLA_MASTER, so rtnetlink cannot tell two OVS bridges apart; vifs on OVS
 * get the uplinks of the whole datapath. Telling bridges apart needs OVSDB (not done).
 */
import { UNKNOWN_RATE, type LineRate } from './line-rate.js';
import { ARPHRD_LOOPBACK, IFF_LOOPBACK, type RtLink } from './rtnl.js';

const VIF_RE = /^vif(\d+)\.(\d+)$/;

/** A vif as the kernel's vifq family reports it (`vif-get`). */
export interface VifIdentity {
  ifindex: number;
  domid: number;
  handle: number;
}

export interface PortRef {
  ifindex: number;
  name: string;
  kind: string | undefined;
}

export interface UplinkRef extends PortRef {
  /** stable id: `mac:<permanent address>` for a real NIC, else `name:<ifname>` */
  id: string;
  /** what the uplink drains, and where that figure came from */
  lineRate: LineRate;
}

export interface VifPlacement {
  ifindex: number;
  name: string;
  domid: number;
  handle: number;
  /** where domid/handle come from: the kernel's vif-get, or the vif's name */
  identity: 'kernel' | 'name';
  /** the bridge / OVS datapath the vif is a port of */
  bridge: PortRef | undefined;
  /** ports of that bridge that lead off the host, sorted by id */
  uplinks: UplinkRef[];
  /** the uplink ids joined with '+' ('' when none): vifs with equal groups share uplinks */
  group: string;
}

export type LinkRole = 'vif' | 'tap' | 'loopback' | 'bridge' | 'ovs-internal' | 'other';

export function parseVifName(name: string): { domid: number; handle: number } | undefined {
  const m = VIF_RE.exec(name);
  return m ? { domid: Number(m[1]), handle: Number(m[2]) } : undefined;
}

/** `known`: ifindexes of the vifs the kernel reports (whatever their names). */
export function linkRole(l: RtLink, known?: ReadonlyMap<number, VifIdentity>): LinkRole {
  if (known?.has(l.ifindex) || parseVifName(l.name)) return 'vif';
  if (l.flags & IFF_LOOPBACK || l.type === ARPHRD_LOOPBACK) return 'loopback';
  if (l.kind === 'tun' || /^tap/.test(l.name) || /-emu$/.test(l.name)) return 'tap';
  if (l.kind === 'bridge') return 'bridge';
  if (l.kind === 'openvswitch') return 'ovs-internal';
  return 'other';
}

/** The stable id of an uplink device. */
export function uplinkId(l: RtLink): string {
  return l.permAddress ? `mac:${l.permAddress}` : `name:${l.name}`;
}

function ref(l: RtLink): PortRef {
  return { ifindex: l.ifindex, name: l.name, kind: l.kind };
}

export interface PlacementInputs {
  /** vifs as the kernel reports them (vif-get): identify vifs by ifindex, not name */
  vifs?: Iterable<VifIdentity>;
  /** line rate per device ifindex (unknown for those missing) */
  rates?: ReadonlyMap<number, LineRate>;
}

/** Place every vif among `links`. */
export function computeTopology(links: Iterable<RtLink>, inputs: PlacementInputs = {}): VifPlacement[] {
  const known = new Map<number, VifIdentity>();
  for (const v of inputs.vifs ?? []) known.set(v.ifindex, v);
  const byIndex = new Map<number, RtLink>();
  const portsOf = new Map<number, RtLink[]>();
  for (const l of links) {
    byIndex.set(l.ifindex, l);
    if (l.master !== undefined) {
      const ports = portsOf.get(l.master);
      if (ports) ports.push(l);
      else portsOf.set(l.master, [l]);
    }
  }
  const out: VifPlacement[] = [];
  for (const l of byIndex.values()) {
    const k = known.get(l.ifindex);
    const id = k ?? parseVifName(l.name);
    if (!id) continue;
    const br = l.master !== undefined ? byIndex.get(l.master) : undefined;
    const uplinks = br
      ? (portsOf.get(br.ifindex) ?? []).filter((p) => linkRole(p, known) === 'other')
        .map((p): UplinkRef => ({ ...ref(p), id: uplinkId(p), lineRate: inputs.rates?.get(p.ifindex) ?? UNKNOWN_RATE }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      : [];
    out.push({
      ifindex: l.ifindex, name: l.name, domid: id.domid, handle: id.handle, identity: k ? 'kernel' : 'name',
      bridge: br ? ref(br) : undefined, uplinks, group: uplinks.map((u) => u.id).join('+'),
    });
  }
  return out.sort((a, b) => a.domid - b.domid || a.handle - b.handle || a.ifindex - b.ifindex);
}

export type TopologyEvent =
  | { type: 'vif-added'; vif: VifPlacement }
  | { type: 'vif-removed'; vif: VifPlacement }
  | { type: 'vif-changed'; vif: VifPlacement; previous: VifPlacement };

function sameRate(a: LineRate, b: LineRate): boolean {
  return a.bitsPerSecond === b.bitsPerSecond && a.source === b.source;
}

function samePlacement(a: VifPlacement, b: VifPlacement): boolean {
  return a.name === b.name && a.group === b.group && a.domid === b.domid && a.handle === b.handle && a.identity === b.identity
    && a.bridge?.ifindex === b.bridge?.ifindex && a.bridge?.name === b.bridge?.name
    && a.uplinks.length === b.uplinks.length
    && a.uplinks.every((u, i) => {
      const o = b.uplinks[i];
      return o !== undefined && u.ifindex === o.ifindex && u.name === o.name && sameRate(u.lineRate, o.lineRate);
    });
}

/** What changed between two placements (keyed by vif ifindex). */
export function diffTopology(prev: readonly VifPlacement[], next: readonly VifPlacement[]): TopologyEvent[] {
  const before = new Map(prev.map((v) => [v.ifindex, v]));
  const after = new Map(next.map((v) => [v.ifindex, v]));
  const ev: TopologyEvent[] = [];
  for (const [i, v] of before) if (!after.has(i)) ev.push({ type: 'vif-removed', vif: v });
  for (const [i, v] of after) {
    const p = before.get(i);
    if (!p) ev.push({ type: 'vif-added', vif: v });
    else if (!samePlacement(p, v)) ev.push({ type: 'vif-changed', vif: v, previous: p });
  }
  return ev;
}
