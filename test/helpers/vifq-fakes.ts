/**
 * A fake kernel with the vifq family for VifqClient unit tests, on the genl fakes: nlctrl
 * (getfamily, the notify group), vif-get/vif-set/config-get/config-set with the codec of the
 * real spec, release reports and vif notifications, and module unload/reload.
 */
import { constants } from 'node:os';
import { CTRL_CMD_DELFAMILY, CTRL_CMD_GETFAMILY, CTRL_CMD_NEWFAMILY, GENL_ID_CTRL } from '../../src/genl/genl.js';
import { YnlCodec, type YnlObject } from '../../src/genl/ynl-codec.js';
import { NLM_F_DUMP, parseAttrs } from '../../src/netlink/wire.js';
import { vifqSpec } from '../../src/vifq/client.js';
import { FakeTransport, ack, ctrlFamilyAttrs, done, genlPayload, notification, reply, type SentMsg } from './genl-fakes.js';

export const NLCTRL_NOTIFY = 0x10;

export class FakeVifqKernel {
  familyId = 0x20;
  version = 1;
  groups = { config: 11, reports: 12 };
  loaded = true;
  readonly vifs = new Map<number, YnlObject>();
  config: YnlObject = { 'report-interval-ms': 1000 };
  readonly spec = vifqSpec();
  readonly codec = new YnlCodec(this.spec);
  readonly transports: FakeTransport[] = [];
  /** Requests to the vifq family, decoded: [op name, attributes]. */
  readonly requests: Array<[string, YnlObject, SentMsg]> = [];

  transport(port: number): FakeTransport {
    const t = new FakeTransport(port);
    t.onSend = (m, tt) => this.answer(m, tt);
    this.transports.push(t);
    return t;
  }

  addVif(ifindex: number, domid: number, handle = 0, extra: YnlObject = {}): void {
    this.vifs.set(ifindex, {
      ifindex, domid, handle, ifname: `vif${domid}.${handle}`, 'limit-bytes': 0, 'limit-packets': 0, 'pending-bytes': 0,
      'pending-packets': 0, bytes: 0, packets: 0, 'released-early': 0, 'latency-ns': 0, 'throttle-events': 0,
      'throttled-ns': 0, priority: 'high', group: 0, 'timeout-ms': 100, 'lowprio-timeout-sends': 0, ...extra,
    });
  }

  private familyAttrs(): Buffer {
    return ctrlFamilyAttrs('vifq', this.familyId, this.version, [['config', this.groups.config], ['reports', this.groups.reports]]);
  }

  private answer(m: SentMsg, tt: FakeTransport): void {
    const cmd = m.payload.readUInt8(0);
    if (m.type === GENL_ID_CTRL && cmd === CTRL_CMD_GETFAMILY) {
      const name = parseAttrs(m.payload.subarray(4))[0]?.value.toString().replace(/\0$/, '');
      if (name === 'nlctrl') {
        tt.deliver(reply(tt, m.seq, GENL_ID_CTRL, genlPayload(CTRL_CMD_NEWFAMILY, ctrlFamilyAttrs('nlctrl', GENL_ID_CTRL, 2, [['notify', NLCTRL_NOTIFY]]), 2)), ack(tt, m.seq));
      } else if (name === 'vifq' && this.loaded) {
        tt.deliver(reply(tt, m.seq, GENL_ID_CTRL, genlPayload(CTRL_CMD_NEWFAMILY, this.familyAttrs(), 2)), ack(tt, m.seq));
      } else {
        tt.deliver(ack(tt, m.seq, constants.errno.ENOENT));
      }
      return;
    }
    if (m.type !== this.familyId || !this.loaded) {
      tt.deliver(ack(tt, m.seq, constants.errno.ENOENT)); // genetlink: unknown family id, no extack
      return;
    }
    const op = this.spec.operations.find((o) => o.requestValue === cmd);
    const attrs = this.codec.decode(op?.attributeSet ?? 'vif', m.payload.subarray(4));
    this.requests.push([op?.name ?? `cmd-${cmd}`, attrs, m]);
    const send = (set: string, obj: YnlObject, flags = 0): Buffer => reply(tt, m.seq, this.familyId, genlPayload(op?.replyValue ?? cmd, this.codec.encode(set, obj), this.version), flags);
    switch (op?.name) {
      case 'vif-get': {
        if (m.flags & NLM_F_DUMP) {
          tt.deliver(...[...this.vifs.values()].map((v) => send('vif', v, 2)), done(tt, m.seq));
          return;
        }
        const v = this.find(attrs);
        if (v) tt.deliver(send('vif', v), ack(tt, m.seq));
        else tt.deliver(ack(tt, m.seq, constants.errno.ENOENT, { msg: 'no such vif' }));
        return;
      }
      case 'vif-set': {
        const v = this.find(attrs);
        if (!v) {
          tt.deliver(ack(tt, m.seq, constants.errno.ENOENT, { msg: 'no such vif' }));
          return;
        }
        const { ifindex: _i, domid: _d, handle: _h, ...set } = attrs;
        Object.assign(v, set);
        tt.deliver(ack(tt, m.seq));
        return;
      }
      case 'config-get':
        tt.deliver(send('config', this.config), ack(tt, m.seq));
        return;
      case 'config-set':
        Object.assign(this.config, attrs);
        tt.deliver(ack(tt, m.seq));
        return;
      default:
        tt.deliver(ack(tt, m.seq, constants.errno.EOPNOTSUPP));
    }
  }

  private find(a: YnlObject): YnlObject | undefined {
    if (a.ifindex !== undefined) return this.vifs.get(Number(a.ifindex));
    return [...this.vifs.values()].find((v) => v.domid === a.domid && v.handle === a.handle);
  }

  /** A multicast message to every socket in `group`. */
  private multicast(group: number, msg: Buffer): void {
    for (const t of this.transports) if (t.groups.has(group) && !t.closed) t.deliver(msg);
  }

  report(intervalMs: number, entries: YnlObject[]): void {
    this.multicast(this.groups.reports, notification(this.familyId, genlPayload(7, this.codec.encode('report', { 'interval-ms': intervalMs, entry: entries }), this.version)));
  }

  vifNotification(op: 'vif-new' | 'vif-del', ifindex: number): void {
    const v = this.vifs.get(ifindex);
    if (!v) throw new Error(`no vif ${ifindex}`);
    this.multicast(this.groups.config, notification(this.familyId, genlPayload(op === 'vif-new' ? 3 : 4, this.codec.encode('vif', v), this.version)));
  }

  unload(): void {
    this.loaded = false;
    this.multicast(NLCTRL_NOTIFY, notification(GENL_ID_CTRL, genlPayload(CTRL_CMD_DELFAMILY, this.familyAttrs(), 2)));
    for (const t of this.transports) {
      t.groups.delete(this.groups.config);
      t.groups.delete(this.groups.reports);
    }
  }

  /** Register again under a new id and new group ids; `notify: false` = a reload the client missed. */
  load(opts: { notify?: boolean } = {}): void {
    this.loaded = true;
    this.familyId += 1;
    this.groups = { config: this.groups.config + 10, reports: this.groups.reports + 10 };
    if (opts.notify ?? true) this.multicast(NLCTRL_NOTIFY, notification(GENL_ID_CTRL, genlPayload(CTRL_CMD_NEWFAMILY, this.familyAttrs(), 2)));
  }
}
