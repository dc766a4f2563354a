import { Flags } from '@oclif/core';
import { VifqCommand } from '../cli/base-command.js';
import { EXIT } from '../cli/exit-codes.js';
import { runHostChecks, type CheckResult } from '../doctor/checks.js';

export interface DoctorResult {
  checks: CheckResult[];
  ok: boolean;
}

export default class Doctor extends VifqCommand {
  static override description = 'Check this host for what vifq needs: Xen dom0, xenstored, xen-netback, the vifq family and its version';

  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json', 'XENSTORED_PATH=/tmp/xs.sock <%= config.bin %> doctor'];

  static override flags = {
    strict: Flags.boolean({ description: 'exit non-zero on warnings too' }),
  };

  async run(): Promise<DoctorResult> {
    const { flags } = await this.parse(Doctor);
    const checks = await runHostChecks();
    const ok = checks.every((c) => c.status === 'ok' || (c.status === 'warn' && !flags.strict));
    if (!this.jsonEnabled()) {
      const width = Math.max(...checks.map((c) => c.check.length));
      for (const c of checks) {
        this.log(`${c.status.toUpperCase().padEnd(4)}  ${c.check.padEnd(width)}  ${c.detail}`);
        if (c.hint && c.status !== 'ok') this.log(`${' '.repeat(width + 8)}→ ${c.hint}`);
      }
    }
    // failed checks are a result (printed above, or the --json object), not an error
    if (!ok) process.exitCode = EXIT.failure;
    return { checks, ok };
  }
}
