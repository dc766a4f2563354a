/**
 * The node operations, shared by the client (outside any transaction) and a
 * transaction handle (tx_id set). Subclasses supply `call()`.
 */
import { checkWireString, decodeStrings, decodeUtf8 } from './codec.js';
import { XsErrnoError, XsNoEntryError, XsTooBigError, XsProtocolError, type XsRequestContext } from './errors.js';
import { formatPerms, parsePerms, type XsPerm, type XsPerms } from './perms.js';
import { XsType, xsTypeName } from './wire.js';

/** How many times `directory()` restarts when the node changes between DIRECTORY_PART reads. */
const DIRECTORY_PART_RESTARTS = 8;

export interface XsCall {
  type: number;
  /** NUL-terminated strings; the last one bare when `lastBare`. */
  parts: ReadonlyArray<string | Uint8Array>;
  lastBare?: boolean;
  ctx: XsRequestContext;
}

export abstract class XsOps {
  /** Sends one request and resolves with its reply payload; rejects with a typed error. */
  protected abstract call(req: XsCall): Promise<Buffer>;

  protected ctx(type: number, path?: string): XsRequestContext {
    return path === undefined ? { op: xsTypeName(type) } : { op: xsTypeName(type), path };
  }

  protected pathCall(type: number, path: string, extra: ReadonlyArray<string | Uint8Array> = [], lastBare = false): Promise<Buffer> {
    const ctx = this.ctx(type, path);
    try {
      checkWireString('path', path, ctx);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.call({ type, parts: [path, ...extra], lastBare, ctx });
  }

  /** The node's value as UTF-8 text; a value that is not UTF-8 is an `XsProtocolError('encoding')`. */
  async read(path: string): Promise<string> {
    return decodeUtf8(await this.readBytes(path), this.ctx(XsType.READ, path));
  }

  /** The node's value as raw bytes. */
  readBytes(path: string): Promise<Buffer> {
    return this.pathCall(XsType.READ, path);
  }

  /** `read()`, with `undefined` for a node that does not exist. */
  async tryRead(path: string): Promise<string | undefined> {
    try {
      return await this.read(path);
    } catch (err) {
      if (err instanceof XsNoEntryError) return undefined;
      throw err;
    }
  }

  /** Writes the value, creating missing parents. */
  async write(path: string, value: string | Uint8Array): Promise<void> {
    await this.pathCall(XsType.WRITE, path, [value], true);
  }

  /** Creates the node and missing parents; an existing value is left alone. */
  async mkdir(path: string): Promise<void> {
    await this.pathCall(XsType.MKDIR, path);
  }

  /** Removes the node and its children. Not an error if it is already gone. */
  async rm(path: string): Promise<void> {
    await this.pathCall(XsType.RM, path);
  }

  /** Names of the node's children (leaf names, not paths). */
  async directory(path: string): Promise<string[]> {
    try {
      return decodeStrings(await this.pathCall(XsType.DIRECTORY, path), this.ctx(XsType.DIRECTORY, path));
    } catch (err) {
      // Too many children for one reply: read the list in parts.
      if (err instanceof XsTooBigError) return this.directoryInParts(path, err);
      throw err;
    }
  }

  /**
   * `XS_DIRECTORY_PART`: request `<path>|<offset>|`, reply `<gencnt>|<child>|*`;
   * the list is complete when the bytes gathered end in an empty string. A
   * changed generation count means the node changed: start again.
   */
  private async directoryInParts(path: string, tooBig: XsTooBigError): Promise<string[]> {
    const ctx = this.ctx(XsType.DIRECTORY_PART, path);
    for (let restart = 0; restart <= DIRECTORY_PART_RESTARTS; restart++) {
      let gen: string | undefined;
      const chunks: Buffer[] = [];
      let off = 0;
      let changed = false;
      for (;;) {
        let reply: Buffer;
        try {
          reply = await this.pathCall(XsType.DIRECTORY_PART, path, [String(off)]);
        } catch (err) {
          // No DIRECTORY_PART in this xenstored (ENOSYS, or EINVAL for an unknown type): the E2BIG stands.
          if (err instanceof XsErrnoError && (err.code === 'ENOSYS' || err.code === 'EINVAL')) throw tooBig;
          throw err;
        }
        const nul = reply.indexOf(0);
        if (nul < 0) throw new XsProtocolError('malformed', 'XS_DIRECTORY_PART reply has no generation count', ctx);
        const thisGen = reply.subarray(0, nul).toString('latin1');
        if (gen === undefined) gen = thisGen;
        else if (gen !== thisGen) {
          changed = true;
          break;
        }
        const rest = reply.subarray(nul + 1);
        chunks.push(rest);
        off += rest.length;
        const all = Buffer.concat(chunks);
        if (off <= 1 || (all.length >= 2 && all[all.length - 2] === 0 && all[all.length - 1] === 0)) {
          const list = off > 1 ? all.subarray(0, all.length - 1) : Buffer.alloc(0);
          return decodeStrings(list, ctx);
        }
        if (rest.length === 0) throw new XsProtocolError('malformed', 'XS_DIRECTORY_PART returned no children and no end mark', ctx);
      }
      if (!changed) break;
    }
    throw new XsProtocolError('malformed', `children of ${path} kept changing while being listed in parts`, ctx);
  }

  /** The node's permissions; the first entry is the owner. */
  async getPerms(path: string): Promise<XsPerms> {
    const ctx = this.ctx(XsType.GET_PERMS, path);
    return parsePerms(decodeStrings(await this.pathCall(XsType.GET_PERMS, path), ctx), ctx);
  }

  /** Replaces the node's permissions; the first entry becomes the owner. */
  async setPerms(path: string, perms: readonly XsPerm[]): Promise<void> {
    const strings = formatPerms(perms, this.ctx(XsType.SET_PERMS, path));
    await this.pathCall(XsType.SET_PERMS, path, strings);
  }
}

