/**
 * The terminal of `vifq top`: the alternate screen, no cursor, raw keys; `restore()` undoes all
 * of it (idempotent) and runs on q, Ctrl-C, SIGTERM and on the way out of an error.
 */
const ALT_ON = '\x1b[?1049h';
const ALT_OFF = '\x1b[?1049l';
const CURSOR_OFF = '\x1b[?25l';
const CURSOR_ON = '\x1b[?25h';
const HOME_CLEAR = '\x1b[H\x1b[2J';

export class TopTerminal {
  private restored = false;
  private readonly onData: (b: Buffer) => void;
  private readonly onSignal: () => void;

  constructor(
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
    /** a key other than q / Ctrl-C */
    onKey: (key: string) => void,
    /** q, Ctrl-C or SIGTERM */
    private readonly onQuit: () => void,
  ) {
    this.onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === 'q' || ch === '\x03') { this.onQuit(); return; }
        onKey(ch);
      }
    };
    this.onSignal = (): void => { this.onQuit(); };
  }

  enter(): void {
    this.output.write(ALT_ON + CURSOR_OFF);
    if (this.input.isTTY) this.input.setRawMode(true);
    this.input.on('data', this.onData);
    this.input.resume();
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
  }

  get width(): number {
    return this.output.columns ?? 80;
  }

  get height(): number {
    return this.output.rows ?? 24;
  }

  draw(lines: readonly string[]): void {
    this.output.write(`${HOME_CLEAR}${lines.join('\r\n')}`);
  }

  restore(): void {
    if (this.restored) return;
    this.restored = true;
    this.input.off('data', this.onData);
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
    this.output.write(CURSOR_ON + ALT_OFF);
  }
}
