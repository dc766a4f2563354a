import { Command, Flags } from '@oclif/core';
import { runHostChecks, type CheckResult } from '../doctor/checks.js';

export default class Doctor extends Command {
  static override description = 'Check this host for what vifq needs: Xen dom0, xenstored, xen-netback';

  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  static override enableJsonFlag = true;

  static override flags = {
    strict: Flags.boolean({ description: 'exit non-zero on warnings too' }),
  };

  async run(): Promise<{ checks: CheckResult[]; ok: boolean }> {
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
    if (!ok) process.exitCode = 1;
    return { checks, ok };
  }
}
