/**
 * DuplexTransport sends the requests made in one go in one write (writev): each write is a
 * syscall and a wake-up of xenstored, and vifqd's re-read of a node is three requests.
 */
import { Duplex } from 'node:stream';
import t from 'tap';
import { XenstoreClient } from '../../src/xenstore/client.js';
import { DuplexTransport } from '../../src/xenstore/transport.js';
import { XsType } from '../../src/xenstore/wire.js';
import { frame } from '../helpers/xenstore-fakes.js';
import { FrameDecoder } from '../../src/xenstore/codec.js';

/** A duplex that answers every request (READ: "v", else "OK") and records how it was written to. */
function server() {
  const writes: number[] = []; // frames per write call
  const decoder = new FrameDecoder();
  const answer = (d: Duplex, bytes: Buffer): void => {
    for (const f of decoder.push(bytes)) {
      const body = f.type === XsType.READ ? 'v' : f.type === XsType.DIRECTORY ? '' : f.type === XsType.GET_PERMS ? 'n0\0' : 'OK\0';
      setImmediate(() => d.push(frame(f.type, f.reqId, body)));
    }
  };
  const d: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      writes.push(1);
      answer(d, chunk);
      cb();
    },
    writev(chunks, cb) {
      writes.push(chunks.length);
      answer(d, Buffer.concat(chunks.map((c) => c.chunk as Buffer)));
      cb();
    },
  });
  return { d, writes };
}

t.test('requests made together leave in one write; later ones in their own', async (t) => {
  const { d, writes } = server();
  const c = await XenstoreClient.open({ connector: async () => new DuplexTransport(d, 'fake'), reconnect: false });
  t.teardown(() => c.close());
  const p = '/local/domain/5/vifq/pending-bytes';
  const [v, perms, kids] = await Promise.all([c.readBytes(p), c.getPerms(p), c.directory(p)]);
  t.same([v.toString(), perms, kids], ['v', [{ domid: 0, access: 'none' }], []], 'every reply matched to its request');
  t.same(writes, [3], 'value, permissions and children: one write of three frames');
  await c.read(p);
  t.same(writes, [3, 1], 'a request made alone goes at once');
  // requests made in a promise chain before the tick ends still share the write
  await Promise.all([c.read(p), Promise.resolve().then(() => c.read(p)).then(() => undefined)]);
  t.same(writes, [3, 1, 2]);
});
