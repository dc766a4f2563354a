/**
 * A small xenstored for host-side benchmarks where no Xen runs (C xenstored started without a
 * dom0 crashes on its first request, oxenstored needs setrlimit): a tree of nodes with values
 * and permission strings, speaking xenstore's wire protocol on a unix socket. DIRECTORY, READ,
 * GET_PERMS, WRITE, MKDIR, RM, SET_PERMS, WATCH (fired on registration, as xenstored does) and
 * UNWATCH, RESET_WATCHES; anything else answers EINVAL. Every client is dom0 (no permission
 * checks). Replies go out as C xenstored's write_messages() sends them: header, then payload,
 * in two writes. A write fires the watches on the path and its parents; an rm, those on the
 * path, its parents and under it.
 *
 * Run on its own process, as xenstored is (the benchmark does):
 *   node --import tsx bench/lib/xs-store-server.ts <socket>
 * It prints `ready` once it listens and exits when stdin closes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { XS_HEADER_BYTES as HEADER, onXsFrames } from './xs-frames.js';

const T = { DIRECTORY: 1, READ: 2, GET_PERMS: 3, WATCH: 4, UNWATCH: 5, WRITE: 11, MKDIR: 12, RM: 13, SET_PERMS: 14, WATCH_EVENT: 15, ERROR: 16, RESET_WATCHES: 21 };

interface Node { value: Buffer; perms: string[] }

export function startStoreServer(socketPath: string): Promise<net.Server> {
  const nodes = new Map<string, Node>([['/', { value: Buffer.alloc(0), perms: ['n0'] }]]);
  const watches = new Set<{ sock: net.Socket; path: string; token: string }>();
  const parentOf = (p: string): string => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
  const under = (p: string, base: string): boolean => p === base || (base === '/' ? p.startsWith('/') : p.startsWith(`${base}/`));
  const send = (sock: net.Socket, type: number, reqId: number, txId: number, body: Buffer): void => {
    const h = Buffer.alloc(HEADER);
    h.writeUInt32LE(type, 0);
    h.writeUInt32LE(reqId, 4);
    h.writeUInt32LE(txId, 8);
    h.writeUInt32LE(body.length, 12);
    sock.write(h);
    if (body.length > 0) sock.write(body);
  };
  const str = (s: string): Buffer => Buffer.from(`${s}\0`);
  const fire = (path: string, withChildren: boolean): void => {
    for (const w of watches) {
      if (under(path, w.path) || (withChildren && under(w.path, path))) send(w.sock, T.WATCH_EVENT, 0, 0, Buffer.from(`${path}\0${w.token}\0`));
    }
  };
  const ensureParents = (p: string): void => {
    for (let q = parentOf(p); !nodes.has(q); q = parentOf(q)) nodes.set(q, { value: Buffer.alloc(0), perms: ['n0'] });
  };
  const handle = (sock: net.Socket, type: number, reqId: number, txId: number, payload: Buffer): void => {
    const parts = payload.toString('latin1').split('\0');
    const path = parts[0] ?? '';
    const err = (e: string): void => send(sock, T.ERROR, reqId, txId, str(e));
    const ok = (): void => send(sock, type, reqId, txId, str('OK'));
    switch (type) {
      case T.DIRECTORY: {
        if (!nodes.has(path)) return err('ENOENT');
        const kids: string[] = [];
        const pre = path === '/' ? '/' : `${path}/`;
        for (const k of nodes.keys()) if (k.startsWith(pre) && k.length > pre.length && !k.slice(pre.length).includes('/')) kids.push(k.slice(pre.length));
        return send(sock, type, reqId, txId, Buffer.from(kids.map((k) => `${k}\0`).join('')));
      }
      case T.READ: {
        const n = nodes.get(path);
        return n ? send(sock, type, reqId, txId, n.value) : err('ENOENT');
      }
      case T.GET_PERMS: {
        const n = nodes.get(path);
        return n ? send(sock, type, reqId, txId, Buffer.from(n.perms.map((p) => `${p}\0`).join(''))) : err('ENOENT');
      }
      case T.WRITE: {
        const i = payload.indexOf(0);
        ensureParents(path);
        const had = nodes.get(path);
        nodes.set(path, { value: Buffer.from(payload.subarray(i + 1)), perms: had?.perms ?? ['n0'] });
        ok();
        return fire(path, false);
      }
      case T.MKDIR:
        if (!nodes.has(path)) {
          ensureParents(path);
          nodes.set(path, { value: Buffer.alloc(0), perms: ['n0'] });
          fire(path, false);
        }
        return ok();
      case T.RM:
        for (const k of [...nodes.keys()]) if (under(k, path)) nodes.delete(k);
        ok();
        return fire(path, true);
      case T.SET_PERMS: {
        const n = nodes.get(path);
        if (!n) return err('ENOENT');
        n.perms = parts.slice(1).filter((p) => p.length > 0);
        ok();
        return fire(path, false);
      }
      case T.WATCH: {
        const w = { sock, path, token: parts[1] ?? '' };
        watches.add(w);
        ok();
        return send(sock, T.WATCH_EVENT, 0, 0, Buffer.from(`${path}\0${w.token}\0`));
      }
      case T.UNWATCH:
        for (const w of watches) if (w.sock === sock && w.path === path && w.token === parts[1]) watches.delete(w);
        return ok();
      case T.RESET_WATCHES:
        for (const w of watches) if (w.sock === sock) watches.delete(w);
        return ok();
      default:
        return err('EINVAL');
    }
  };
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.on('close', () => { for (const w of watches) if (w.sock === sock) watches.delete(w); });
    onXsFrames(sock, (buf, off, len) => {
      handle(sock, buf.readUInt32LE(off), buf.readUInt32LE(off + 4), buf.readUInt32LE(off + 8), buf.subarray(off + HEADER, off + HEADER + len));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const socketPath = process.argv[2];
  if (!socketPath) throw new Error('usage: xs-store-server.ts <socket>');
  const server = await startStoreServer(socketPath);
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('close', () => {
    server.close();
    process.exit(0);
  });
}
