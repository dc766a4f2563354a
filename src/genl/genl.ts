/**
 * Generic netlink: the genlmsghdr, family resolution through nlctrl, and
 * multicast group membership. Payload attributes stay opaque Buffers here;
 * the YNL codec (ynl-codec.ts) gives them meaning.
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { NetlinkConnection, type ConnectionOptions, type DumpOptions, type RequestOptions } from '../netlink/connection.js';
import { NetlinkDecodeError, NetlinkError, type NetlinkBaseError, type NetlinkOverrunError } from '../netlink/errors.js';
import { openTransport, type NetlinkTransport, type OpenTransportOptions } from '../netlink/transport.js';
import { NETLINK_GENERIC, attrString, decodeCString, parseAttrs, type NlMsg } from '../netlink/wire.js';
import { FamilyNotFoundError } from './errors.js';

/** genlmsghdr: cmd u8, version u8, reserved u16 */
export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_DELFAMILY = 2;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_OPS = 6;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_OP_ID = 1;
export const CTRL_ATTR_OP_FLAGS = 2;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  hdrSize: number;
  maxAttr: number;
  /** command id -> GENL_ADMIN_PERM etc. flags */
  ops: Map<number, number>;
  /** group name -> group id */
  mcastGroups: Map<string, number>;
}

export interface GenlMessage {
  familyId: number;
  cmd: number;
  version: number;
  /** the attributes after the genl header (and the family's fixed header, if any) */
  attrs: Buffer;
  header: NlMsg;
}

export function encodeGenl(cmd: number, version: number, attrs: Buffer): Buffer {
  const b = Buffer.alloc(GENL_HDRLEN + attrs.length);
  b.writeUInt8(cmd, 0);
  b.writeUInt8(version, 1);
  attrs.copy(b, GENL_HDRLEN);
  return b;
}

export function decodeGenl(m: NlMsg): GenlMessage {
  if (m.payload.length < GENL_HDRLEN) {
    throw new NetlinkDecodeError(`genl message type ${m.type}`, `${m.payload.length} bytes, shorter than genlmsghdr`);
  }
  return {
    familyId: m.type,
    cmd: m.payload.readUInt8(0),
    version: m.payload.readUInt8(1),
    attrs: m.payload.subarray(GENL_HDRLEN),
    header: m,
  };
}

/** Parse a CTRL_CMD_NEWFAMILY message (reply to GETFAMILY, or a ctrl notification). */
export function parseCtrlFamily(attrs: Buffer): GenlFamily {
  const fam: GenlFamily = { id: 0, name: '', version: 0, hdrSize: 0, maxAttr: 0, ops: new Map(), mcastGroups: new Map() };
  const u32 = (v: Buffer, what: string): number => {
    if (v.length < 4) throw new NetlinkDecodeError(`nlctrl.${what}`, `${v.length} bytes, expected 4`);
    return v.readUInt32LE(0);
  };
  for (const a of parseAttrs(attrs, 'nlctrl')) {
    switch (a.type) {
      case CTRL_ATTR_FAMILY_ID:
        if (a.value.length < 2) throw new NetlinkDecodeError('nlctrl.family-id', `${a.value.length} bytes, expected 2`);
        fam.id = a.value.readUInt16LE(0);
        break;
      case CTRL_ATTR_FAMILY_NAME: fam.name = decodeCString(a.value, 'nlctrl.family-name'); break;
      case CTRL_ATTR_VERSION: fam.version = u32(a.value, 'version'); break;
      case CTRL_ATTR_HDRSIZE: fam.hdrSize = u32(a.value, 'hdrsize'); break;
      case CTRL_ATTR_MAXATTR: fam.maxAttr = u32(a.value, 'maxattr'); break;
      case CTRL_ATTR_OPS:
        for (const op of parseAttrs(a.value, 'nlctrl.ops')) {
          let id = -1;
          let flags = 0;
          for (const f of parseAttrs(op.value, 'nlctrl.ops[]')) {
            if (f.type === CTRL_ATTR_OP_ID) id = u32(f.value, 'op-id');
            else if (f.type === CTRL_ATTR_OP_FLAGS) flags = u32(f.value, 'op-flags');
          }
          if (id >= 0) fam.ops.set(id, flags);
        }
        break;
      case CTRL_ATTR_MCAST_GROUPS:
        for (const g of parseAttrs(a.value, 'nlctrl.mcast-groups')) {
          let name = '';
          let id = -1;
          for (const f of parseAttrs(g.value, 'nlctrl.mcast-groups[]')) {
            if (f.type === CTRL_ATTR_MCAST_GRP_NAME) name = decodeCString(f.value, 'nlctrl.mcast-grp-name');
            else if (f.type === CTRL_ATTR_MCAST_GRP_ID) id = u32(f.value, 'mcast-grp-id');
          }
          if (name && id >= 0) fam.mcastGroups.set(name, id);
        }
        break;
      default:
        break; // policy, op policies: not needed
    }
  }
  return fam;
}

export interface GenlClientOptions extends ConnectionOptions, OpenTransportOptions {
  /** Use this transport instead of opening a socket (tests). */
  transport?: NetlinkTransport;
}

/** Events, per the I/O contract in CONVENTIONS.md. */
export interface GenlClientEvents {
  /** A multicast message of a subscribed group (any family, nlctrl included). */
  notification: [msg: GenlMessage];
  /** Notifications were lost (ENOBUFS): re-read the state with a dump. */
  'resync-needed': [err: NetlinkOverrunError];
  /** Something survived: a datagram or a genl header that did not parse. */
  warning: [err: NetlinkBaseError];
  close: [cause: Error | undefined];
}

/**
 * A generic netlink socket. Use one client for requests and another for
 * subscriptions when a request may trigger a notification on a group the
 * same socket listens to: the kernel gives such a notification the
 * request's seq and port, and it could be taken for the reply.
 */
export class GenlClient extends EventEmitter<GenlClientEvents> {
  readonly conn: NetlinkConnection;
  private readonly families = new Map<string, GenlFamily>();
  private readonly joined = new Set<number>();

  constructor(conn: NetlinkConnection) {
    super();
    this.conn = conn;
    conn.on('notification', (m) => {
      let g: GenlMessage;
      try {
        g = decodeGenl(m);
      } catch (e) {
        this.conn.stats.malformed++;
        this.emit('warning', e instanceof NetlinkDecodeError ? e : new NetlinkDecodeError('genl notification', String(e)));
        return;
      }
      this.emit('notification', g);
    });
    conn.on('resync-needed', (e) => this.emit('resync-needed', e));
    conn.on('warning', (e) => this.emit('warning', e));
    conn.on('close', (c) => this.emit('close', c));
  }

  static open(opts: GenlClientOptions = {}): GenlClient {
    const transport = opts.transport ?? openTransport(NETLINK_GENERIC, opts);
    return new GenlClient(new NetlinkConnection(transport, { name: 'genl', ...opts }));
  }

  /** Resolve a family by name (cached). Throws FamilyNotFoundError if the kernel does not have it. */
  async resolveFamily(name: string, opts: { refresh?: boolean; timeoutMs?: number } = {}): Promise<GenlFamily> {
    const cached = this.families.get(name);
    if (cached && !opts.refresh) return cached;
    if (Buffer.byteLength(name) > 15) {
      throw new FamilyNotFoundError(name, 'generic netlink family names are at most 15 bytes (GENL_NAMSIZ)');
    }
    let replies: unknown[];
    try {
      replies = await this.conn.request(GENL_ID_CTRL, encodeGenl(CTRL_CMD_GETFAMILY, 2, attrString(CTRL_ATTR_FAMILY_NAME, name)), {
        name: `nlctrl getfamily ${name}`,
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        map: (m) => parseCtrlFamily(decodeGenl(m).attrs),
      });
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === osConstants.errno.ENOENT) throw new FamilyNotFoundError(name);
      throw e;
    }
    const fam = replies[0] as GenlFamily | undefined;
    if (!fam || fam.id === 0) throw new NetlinkDecodeError(`nlctrl getfamily ${name}`, 'reply without a family id');
    this.families.set(name, fam);
    return fam;
  }

  /** Every family the kernel has (a ctrl dump). */
  async listFamilies(opts: { timeoutMs?: number } = {}): Promise<GenlFamily[]> {
    const replies = await this.conn.dump(GENL_ID_CTRL, encodeGenl(CTRL_CMD_GETFAMILY, 2, Buffer.alloc(0)), {
      name: 'nlctrl getfamily dump',
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      map: (m) => parseCtrlFamily(decodeGenl(m).attrs),
    });
    return replies as GenlFamily[];
  }

  /** A `do` request; `map` decodes each reply inside the request's deadline. */
  async request<T = GenlMessage>(familyId: number, cmd: number, version: number, attrs: Buffer,
    opts: Omit<RequestOptions, 'map'> & { map?: (g: GenlMessage) => T } = {}): Promise<T[]> {
    const { map, ...rest } = opts;
    return (await this.conn.request(familyId, encodeGenl(cmd, version, attrs), {
      ...rest,
      map: (m) => (map ? map(decodeGenl(m)) : decodeGenl(m)),
    })) as T[];
  }

  async dump<T = GenlMessage>(familyId: number, cmd: number, version: number, attrs: Buffer,
    opts: Omit<DumpOptions, 'map'> & { map?: (g: GenlMessage) => T } = {}): Promise<T[]> {
    const { map, ...rest } = opts;
    return (await this.conn.dump(familyId, encodeGenl(cmd, version, attrs), {
      ...rest,
      map: (m) => (map ? map(decodeGenl(m)) : decodeGenl(m)),
    })) as T[];
  }

  /** Join a family's multicast group by name. */
  async subscribe(family: string, group: string): Promise<number> {
    const fam = await this.resolveFamily(family);
    const id = fam.mcastGroups.get(group);
    if (id === undefined) {
      throw new FamilyNotFoundError(`${family}/${group}`,
        `family "${family}" has no multicast group "${group}" (it has: ${[...fam.mcastGroups.keys()].join(', ') || 'none'})`);
    }
    if (!this.joined.has(id)) {
      this.conn.addMembership(id);
      this.joined.add(id);
    }
    return id;
  }

  unsubscribe(groupId: number): void {
    if (this.joined.delete(groupId)) this.conn.dropMembership(groupId);
  }

  close(): void {
    this.conn.close();
  }
}
