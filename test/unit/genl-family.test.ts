import t from 'tap';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { GenlClient, GENL_ID_CTRL, CTRL_CMD_GETFAMILY } from '../../src/genl/genl.js';
import { YnlFamily, type YnlNotification } from '../../src/genl/ynl-family.js';
import { loadYnlSpecFile } from '../../src/genl/ynl-spec.js';
import { NetlinkDecodeError, NetlinkEncodeError, NetlinkError, NetlinkTimeoutError } from '../../src/netlink/errors.js';
import { FamilyNotFoundError } from '../../src/genl/errors.js';
import { NetlinkConnection } from '../../src/netlink/connection.js';
import { NLM_F_MULTI, parseAttrs } from '../../src/netlink/wire.js';
import { FakeTransport, ack, ctrlFamilyAttrs, done, genlPayload, notification, reply } from '../helpers/genl-fakes.js';

const VIFQ_ID = 0x1c;
const vifqSpec = loadYnlSpecFile(fileURLToPath(new URL('../../kernel-patch/vifq.yaml', import.meta.url)));

/** A fake kernel with nlctrl knowing `vifq`, and a vifq family with two vifs. */
function fakeKernel(): { tr: FakeTransport; client: GenlClient } {
  const tr = new FakeTransport();
  const client = new GenlClient(new NetlinkConnection(tr, { name: 'genl', timeoutMs: 500 }));
  const family = new YnlFamilyProbe();
  tr.onSend = (m, tt) => {
    const cmd = m.payload.readUInt8(0);
    if (m.type === GENL_ID_CTRL && cmd === CTRL_CMD_GETFAMILY) {
      const name = parseAttrs(m.payload.subarray(4))[0]?.value.toString().replace(/\0$/, '');
      if (name === 'vifq') {
        tt.deliver(reply(tt, m.seq, GENL_ID_CTRL, genlPayload(1, ctrlFamilyAttrs('vifq', VIFQ_ID, 1, [['config', 9], ['reports', 10]]), 2)), ack(tt, m.seq));
      } else {
        tt.deliver(ack(tt, m.seq, constants.errno.ENOENT));
      }
      return;
    }
    if (m.type === VIFQ_ID) family.answer(m, tt);
  };
  return { tr, client };
}

class YnlFamilyProbe {
  answer(m: { type: number; seq: number; flags: number; payload: Buffer }, tt: FakeTransport): void {
    const cmd = m.payload.readUInt8(0);
    // hand-built replies: the codec under test must decode them
    const vif = (domid: number, ifindex: number): Buffer => Buffer.concat([
      attr32(2, domid), attr32(3, 0), attr32(1, ifindex), attr32(5, 65536), attr32(17, 1),
    ]);
    if (cmd === 1 && m.flags & 0x300) {
      tt.deliver(
        reply(tt, m.seq, VIFQ_ID, genlPayload(1, vif(1, 5)), NLM_F_MULTI),
        reply(tt, m.seq, VIFQ_ID, genlPayload(1, vif(2, 6)), NLM_F_MULTI),
        done(tt, m.seq),
      );
    } else if (cmd === 1) {
      const ifindex = parseAttrs(m.payload.subarray(4)).find((a) => a.type === 1)?.value.readUInt32LE(0);
      if (ifindex === 5) tt.deliver(reply(tt, m.seq, VIFQ_ID, genlPayload(1, vif(1, 5))), ack(tt, m.seq));
      else tt.deliver(ack(tt, m.seq, constants.errno.ENOENT, { msg: 'no vif with this ifindex', offs: 20 }));
    } else if (cmd === 2) {
      tt.deliver(ack(tt, m.seq));
    }
  }
}

function attr32(type: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8, 0);
  b.writeUInt16LE(type, 2);
  b.writeUInt32LE(v, 4);
  return b;
}

t.test('resolveFamily parses nlctrl and caches; unknown family is FamilyNotFoundError with a hint', async (t) => {
  const { tr, client } = fakeKernel();
  const f = await client.resolveFamily('vifq');
  t.equal(f.id, VIFQ_ID);
  t.equal(f.version, 1);
  t.same([...f.mcastGroups], [['config', 9], ['reports', 10]]);
  await client.resolveFamily('vifq');
  t.equal(tr.sent.length, 1, 'cached');
  const e = await client.resolveFamily('nope').catch((x: unknown) => x);
  t.type(e, FamilyNotFoundError);
  const e2 = (await fakeKernel().client.resolveFamily('vifq2').catch((x: unknown) => x)) as FamilyNotFoundError;
  t.match(e2.message, /"vifq2" is not registered/);
  t.equal(e2.exitCode, 3);
  const { client: c3, tr: tr3 } = fakeKernel();
  tr3.onSend = (m, tt) => tt.deliver(ack(tt, m.seq, constants.errno.ENOENT));
  const e3 = (await c3.resolveFamily('vifq').catch((x: unknown) => x)) as FamilyNotFoundError;
  t.match(e3.hint, /is the module providing "vifq" loaded\?/);
  t.notMatch(e3.message, /vifq doctor/, 'the generic genl layer names no product command (src/vifq/ does)');
});

t.test('vifq spec drives do, dump, errors and subscriptions with no hand-written codec', async (t) => {
  const { tr, client } = fakeKernel();
  const vifq = await YnlFamily.open(client, vifqSpec);
  const all = await vifq.dump('vif-get');
  t.same(all, [
    { domid: 1, handle: 0, ifindex: 5, 'limit-bytes': 65536, priority: 'low' },
    { domid: 2, handle: 0, ifindex: 6, 'limit-bytes': 65536, priority: 'low' },
  ]);
  t.same(await vifq.do('vif-get', { ifindex: 5 }), all[0]);
  const e = (await vifq.do('vif-get', { ifindex: 99 }).catch((x: unknown) => x)) as NetlinkError;
  t.type(e, NetlinkError);
  t.equal(e.code, 'ENOENT');
  t.equal(e.extack.message, 'no vif with this ifindex');
  t.match(e.message, /vifq vif-get failed with ENOENT: no vif with this ifindex/);
  t.equal(await vifq.do('vif-set', { ifindex: 5, 'limit-bytes': 32768, priority: 'high', group: 3 }), undefined);
  const set = tr.last();
  t.equal(set.payload.readUInt8(0), 2, 'vif-set cmd');
  await t.rejects(vifq.do('vif-set', { bytes: 1 }), NetlinkEncodeError, 'vif-set does not take counters');
  await t.rejects(vifq.dump('vif-set'), NetlinkEncodeError, 'no dump for vif-set');
  await t.rejects(vifq.do('nope'), NetlinkEncodeError);
  await t.rejects(vifq.do('config-get'), NetlinkTimeoutError, 'an unanswered request times out');

  await vifq.subscribe('reports');
  await vifq.subscribe('config');
  t.same([...tr.groups].sort((a, b) => a - b), [9, 10]);
  await t.rejects(vifq.subscribe('bogus'), NetlinkEncodeError);

  const got: YnlNotification[] = [];
  vifq.on('notification', (n) => got.push(n));
  const errors: Error[] = [];
  vifq.on('warning', (x) => errors.push(x));
  const report = vifq.codec.encode('report', {
    'interval-ms': 1000, entry: [{ domid: 1, handle: 0, ifindex: 5, bytes: 1500, packets: 1, hist: [0, 1] }],
  });
  tr.deliver(notification(VIFQ_ID, genlPayload(7, report)));
  tr.deliver(notification(VIFQ_ID, genlPayload(3, attr32(1, 8))));
  tr.deliver(notification(VIFQ_ID, genlPayload(4, attr32(1, 8))));
  tr.deliver(notification(VIFQ_ID + 1, genlPayload(4, attr32(1, 8))), notification(VIFQ_ID, genlPayload(99, Buffer.alloc(0))));
  tr.deliver(notification(VIFQ_ID, genlPayload(3, Buffer.from([8, 0, 1, 0, 1]))));
  t.same(got.map((n) => n.op), ['release-report', 'vif-new', 'vif-del']);
  t.same(got[0]?.attrs, { 'interval-ms': 1000, entry: [{ domid: 1, handle: 0, ifindex: 5, bytes: 1500, packets: 1, hist: [0, 1] }] });
  t.equal(errors.length, 2, 'unknown cmd and bad bytes are warning events, not throws');
  t.equal(vifq.decodeFailures, 2, 'and counted');
  t.type(errors[0], NetlinkDecodeError);
  client.close();
});
