/**
 * Base class of every `vifq` command: a typed error's exit code and hint become the exit
 * status, one line on stderr (the hint once) and, with `--json`, an error object on stdout:
 *
 *   { "error": { "name": "VifqUnavailableError", "message": "...", "hint": "...", "exitCode": 3, "causes": [...] } }
 *
 * Commands just throw; they stay small (the pattern of sf-plugins-core's SfCommand).
 */
import { Command, Errors } from '@oclif/core';
import { describeFailure, failureLine, type CliFailure } from './failure.js';

export abstract class VifqCommand extends Command {
  static override enableJsonFlag = true;

  /** The `--json` form of a failure. */
  protected override toErrorJson(err: unknown): { error: CliFailure } {
    return { error: describeFailure(err) };
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<void> {
    if (err instanceof Errors.ExitError) throw err; // this.exit(n) in a command: already decided
    const f = describeFailure(err);
    if (this.jsonEnabled()) this.logJson(this.toErrorJson(err));
    else process.stderr.write(`${failureLine(f)}\n`);
    // ExitError: oclif exits with the status and prints nothing more
    this.exit(f.exitCode);
  }
}
