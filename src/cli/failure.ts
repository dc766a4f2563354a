/**
 * Any error that reaches the CLI, as what the user sees: an exit status, one line of text
 * (the hint once), and the `--json` error object. Pure.
 */
import { VifqError } from '../errors.js';
import { EXIT } from './exit-codes.js';

export interface CliFailure {
  /** the error's class name (VifqUnavailableError...), or `UsageError` / `InternalError` */
  name: string;
  /** what happened, without the hint */
  message: string;
  /** what to do next */
  hint: string | undefined;
  exitCode: number;
  /** the messages of the causes, outermost first (for --json and debugging) */
  causes: string[];
}

/** oclif's own errors (flag parsing...) carry their exit status in `oclif.exit`. */
function oclifExit(err: unknown): number | undefined {
  const o = (err as { oclif?: { exit?: unknown } } | null)?.oclif;
  return typeof o?.exit === 'number' ? o.exit : undefined;
}

function causes(err: unknown): string[] {
  const out: string[] = [];
  let c = err instanceof Error ? err.cause : undefined;
  for (let i = 0; c !== undefined && i < 8; i++) {
    out.push(c instanceof Error ? `${c.name}: ${c instanceof VifqError ? c.summary : c.message}` : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return out;
}

export function describeFailure(err: unknown): CliFailure {
  if (err instanceof VifqError) {
    return { name: err.name, message: err.summary, hint: err.hint, exitCode: err.exitCode, causes: causes(err) };
  }
  const exit = oclifExit(err);
  if (exit !== undefined) {
    // oclif's text spreads one error over lines ("Parsing --width\n\tExpected ..."): one line, without its help pointer
    const lines = (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^See more help/.test(l));
    const message = lines.join(': ');
    return { name: 'UsageError', message, hint: 'see --help', exitCode: exit, causes: [] };
  }
  return {
    name: 'InternalError',
    message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    hint: 'this is a bug in vifq: please report it with this output and `vifq doctor --json`',
    exitCode: EXIT.internal,
    causes: causes(err),
  };
}

/** The one line a human sees on stderr. */
export function failureLine(f: CliFailure): string {
  const line = f.hint ? `${f.message} (${f.hint})` : f.message;
  return `Error: ${line.replace(/\s*\n\s*/g, ' ')}`;
}
