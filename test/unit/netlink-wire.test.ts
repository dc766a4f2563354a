import t from 'tap';
import {
  NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MISS_TYPE, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
  attrString, attrU32, encodeAttr, encodeNlMsg, parseAttrs, parseErrorPayload, splitNlMsgs, decodeCString,
} from '../../src/netlink/wire.js';
import { NetlinkDecodeError, errnoName } from '../../src/netlink/errors.js';

function errPayload(errno: number, request: Buffer, capped: boolean, tlvs: Buffer): { payload: Buffer; flags: number } {
  const e = Buffer.alloc(4);
  e.writeInt32LE(-errno, 0);
  const req = capped ? request.subarray(0, 16) : request;
  return { payload: Buffer.concat([e, req, tlvs]), flags: (capped ? NLM_F_CAPPED : 0) | (tlvs.length ? NLM_F_ACK_TLVS : 0) };
}

t.test('error payload: capped and uncapped, with extack TLVs', async (t) => {
  const request = encodeNlMsg({ type: 0x14, flags: 5, seq: 77, pid: 0 }, Buffer.concat([Buffer.alloc(4), attrU32(1, 0)]));
  const tlvs = Buffer.concat([attrString(NLMSGERR_ATTR_MSG, 'integer out of range'), attrU32(NLMSGERR_ATTR_OFFS, 20), attrU32(NLMSGERR_ATTR_MISS_TYPE, 3)]);
  for (const capped of [true, false]) {
    const { payload, flags } = errPayload(34, request, capped, tlvs);
    const e = parseErrorPayload(payload, flags);
    t.equal(e.errno, 34);
    t.equal(e.request.seq, 77);
    t.equal(e.request.type, 0x14);
    t.same(e.extack, { message: 'integer out of range', offset: 20, missingType: 3 }, capped ? 'capped' : 'uncapped');
  }
  const ack = errPayload(0, request, true, Buffer.alloc(0));
  t.same(parseErrorPayload(ack.payload, ack.flags).extack, {});
  t.throws(() => parseErrorPayload(Buffer.alloc(10), 0), NetlinkDecodeError);
  t.equal(errnoName(34), 'ERANGE');
  t.equal(errnoName(4000), 'errno 4000');
});

t.test('split datagrams: several messages, padding, bad lengths', async (t) => {
  const a = encodeNlMsg({ type: 16, flags: 2, seq: 1, pid: 9 }, Buffer.from('abcde'));
  const b = encodeNlMsg({ type: 17, flags: 2, seq: 1, pid: 9 }, Buffer.alloc(0));
  const msgs = splitNlMsgs(Buffer.concat([a, Buffer.alloc(3), b]));
  t.same(msgs.map((m) => [m.type, m.payload.toString()]), [[16, 'abcde'], [17, '']]);
  t.throws(() => splitNlMsgs(Buffer.concat([a, Buffer.alloc(3), b.subarray(0, 10)])), /shorter than a 16-byte nlmsghdr/);
  const big = Buffer.from(b);
  big.writeUInt32LE(0xffffffff, 0);
  t.throws(() => splitNlMsgs(big), /runs past the end/);
  t.same(splitNlMsgs(Buffer.alloc(0)), []);
});

t.test('attributes and strings', async (t) => {
  const attrs = parseAttrs(Buffer.concat([attrU32(1, 5), encodeAttr(2, attrU32(1, 1), true)]));
  t.same(attrs.map((a) => [a.type, a.nested, a.offset]), [[1, false, 0], [2, true, 8]]);
  t.throws(() => encodeAttr(1, Buffer.alloc(70000)), RangeError);
  t.equal(decodeCString(Buffer.from('ab\0cd'), 'x'), 'ab');
  t.throws(() => decodeCString(Buffer.from([0xc3, 0x28]), 'x.name'), { name: 'NetlinkDecodeError', message: /x\.name: string is not valid UTF-8/ });
});
