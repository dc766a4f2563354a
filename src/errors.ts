/**
 * Root of every error vifq raises on purpose. `hint` says what to do next;
 * `exitCode` is what the CLI exits with when the error reaches it.
 */
export class VifqError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;
  /** What happened, without the hint (`message` is this plus ` (hint)`). */
  readonly summary: string;

  constructor(message: string, options: { hint?: string; cause?: unknown; exitCode?: number } = {}) {
    super(options.hint ? `${message} (${options.hint})` : message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
    this.summary = message;
  }
}
