/** Types of xs-raw-client.mjs (plain JS, also run in dom0). */
/** What the client needs of a socket (a `net.Socket`, or an in-memory stand-in). */
export interface RawSocket {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  write(bytes: Buffer): unknown;
  destroy(): unknown;
}

export declare class RawXsClient {
  constructor(sock: RawSocket);
  static connect(path: string): Promise<RawXsClient>;
  /** XS_READ of `path`: the reply payload (an error reply's too). */
  read(path: string): Promise<Buffer>;
  close(): void;
}
