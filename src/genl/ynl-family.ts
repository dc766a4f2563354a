/**
 * A generic netlink family driven by its YAML spec: `do`, `dump` and
 * notifications by operation name, with attributes encoded and decoded by
 * the spec (no hand-written code per family).
 *
 *   const vifq = await YnlFamily.open(client, loadYnlSpecFile('vifq.yaml'));
 *   const vifs = await vifq.dump('vif-get');
 *   await vifq.do('vif-set', { ifindex: 7, 'limit-bytes': 65536 });
 *   await vifq.subscribe('reports');
 *   vifq.on('notification', (n) => n.op === 'release-report' && use(n.attrs));
 */
import { EventEmitter } from 'node:events';
import { NetlinkDecodeError, NetlinkEncodeError } from '../netlink/errors.js';
import type { GenlClient, GenlFamily, GenlMessage } from './genl.js';
import { YnlCodec, type CodecOptions, type YnlObject } from './ynl-codec.js';
import type { YnlOp, YnlSpec } from './ynl-spec.js';

export interface YnlNotification {
  /** operation name from the spec (`vif-new-ntf`, `release-report`...), or `cmd-<n>` if unknown */
  op: string;
  cmd: number;
  attrs: YnlObject;
}

/** Events, per the I/O contract in CONVENTIONS.md (no 'error' event: nothing here can throw at a listener-less emitter). */
export interface YnlFamilyEvents {
  notification: [n: YnlNotification];
  /** A notification of this family that did not decode (counted in `decodeFailures` too). */
  warning: [err: NetlinkDecodeError];
}

export interface YnlCallOptions {
  timeoutMs?: number;
  /** extra nlmsg_flags */
  flags?: number;
}

export class YnlFamily extends EventEmitter<YnlFamilyEvents> {
  readonly client: GenlClient;
  readonly spec: YnlSpec;
  readonly codec: YnlCodec;
  private fam: GenlFamily;
  /** Notifications of this family that did not decode (each also a 'warning' event). */
  decodeFailures = 0;

  private constructor(client: GenlClient, spec: YnlSpec, family: GenlFamily, codec: YnlCodec) {
    super();
    this.client = client;
    this.spec = spec;
    this.fam = family;
    this.codec = codec;
    client.on('notification', (g) => {
      if (g.familyId !== this.family.id) return;
      let n: YnlNotification;
      try {
        n = this.decodeNotification(g);
      } catch (e) {
        this.decodeFailures++;
        this.emit('warning', e instanceof NetlinkDecodeError ? e : new NetlinkDecodeError(`${this.spec.name} notification cmd ${g.cmd}`, String(e)));
        return;
      }
      this.emit('notification', n);
    });
  }

  /** The kernel's registration of the family (id, version, groups) this object talks to. */
  get family(): GenlFamily {
    return this.fam;
  }

  /**
   * Talk to a new registration of the family (the module was reloaded: new id, new group
   * ids). Requests from now on use it; groups must be joined again by the caller.
   */
  rebind(family: GenlFamily): void {
    if (family.name !== this.spec.name) {
      throw new NetlinkEncodeError(`${this.spec.name} rebind`, `family "${family.name}" is not "${this.spec.name}"`);
    }
    this.fam = family;
  }

  /** Resolve the family named by the spec (FamilyNotFoundError if the kernel lacks it). */
  static async open(client: GenlClient, spec: YnlSpec, opts: CodecOptions = {}): Promise<YnlFamily> {
    const family = await client.resolveFamily(spec.name);
    return new YnlFamily(client, spec, family, new YnlCodec(spec, opts));
  }

  op(name: string): YnlOp {
    const op = this.spec.opsByName.get(name);
    if (!op) {
      throw new NetlinkEncodeError(`${this.spec.name} ${name}`,
        `the spec has no operation "${name}" (it has: ${this.spec.operations.map((o) => o.name).join(', ')})`);
    }
    return op;
  }

  /** Encode a request's attributes for `op` (exposed for tests and tools). */
  encodeRequest(opName: string, attrs: Record<string, unknown>, mode: 'do' | 'dump'): { op: YnlOp; cmd: number; payload: Buffer } {
    const op = this.op(opName);
    const m = mode === 'do' ? op.do : op.dump;
    if (!m || op.requestValue === undefined) {
      throw new NetlinkEncodeError(`${this.spec.name} ${opName}`, `the operation has no ${mode}`);
    }
    return { op, cmd: op.requestValue, payload: this.codec.encode(op.attributeSet, attrs, m.request ?? []) };
  }

  private decodeReply(op: YnlOp, g: GenlMessage): YnlObject {
    return this.codec.decode(op.attributeSet, g.attrs);
  }

  /** A `do` request. Resolves to the decoded reply, or undefined for ops that only ACK. */
  async do(opName: string, attrs: Record<string, unknown> = {}, opts: YnlCallOptions = {}): Promise<YnlObject | undefined> {
    const { op, cmd, payload } = this.encodeRequest(opName, attrs, 'do');
    const replies = await this.client.request(this.family.id, cmd, this.family.version, payload, {
      name: `${this.spec.name} ${opName}`,
      ...opts,
      map: (g) => this.decodeReply(op, g),
    });
    return replies[0];
  }

  /** A dump request: every object the kernel reports. */
  async dump(opName: string, attrs: Record<string, unknown> = {}, opts: YnlCallOptions = {}): Promise<YnlObject[]> {
    const { op, cmd, payload } = this.encodeRequest(opName, attrs, 'dump');
    return this.client.dump(this.family.id, cmd, this.family.version, payload, {
      name: `${this.spec.name} ${opName} dump`,
      ...opts,
      map: (g) => this.decodeReply(op, g),
    });
  }

  /** Join a multicast group named in the spec. */
  async subscribe(group: string): Promise<void> {
    if (!this.spec.mcastGroups.includes(group)) {
      throw new NetlinkEncodeError(`${this.spec.name} group`, `the spec has no multicast group "${group}" (it has: ${this.spec.mcastGroups.join(', ')})`);
    }
    await this.client.subscribe(this.spec.name, group);
  }

  /** Decode a message of this family that is not a reply: a notification or event. */
  decodeNotification(g: GenlMessage): YnlNotification {
    const op = this.spec.opsByReplyValue.get(g.cmd);
    if (!op) {
      throw new NetlinkDecodeError(`${this.spec.name} notification`, `cmd ${g.cmd} is not in the spec`);
    }
    return { op: op.name, cmd: g.cmd, attrs: this.codec.decode(op.attributeSet, g.attrs) };
  }
}
