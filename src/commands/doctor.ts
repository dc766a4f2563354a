import { Flags } from '@oclif/core';
import { VifqCommand } from '../cli/base-command.js';
import { EXIT } from '../cli/exit-codes.js';
import { controlFlags } from '../cli/control.js';
import type { CheckResult } from '../doctor/checks.js';

export interface DoctorResult {
  checks: CheckResult[];
  ok: boolean;
}

export default class Doctor extends VifqCommand {
  static override summary = 'Check this host, vifqd and the SLA nodes; each finding with its fix';

  static override description = `Check this host for what vifq needs: Xen dom0, xenstored, xen-netback, the vifq family and its version; vifqd running and every uplink's line rate known; every guest's SLA nodes dom0-owned and guest read-only; no netback rate= beside vifq. Each finding with the command that fixes it; exit status 1 on any failure (--strict: on warnings too).`;

  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json', 'XENSTORED_PATH=/tmp/xs.sock <%= config.bin %> doctor'];

  static override flags = {
    strict: Flags.boolean({ description: 'exit non-zero on warnings too' }),
    socket: controlFlags.socket,
  };

  async run(): Promise<DoctorResult> {
    const { flags } = await this.parse(Doctor);
    // imported here, not at the top: the checks load the netlink, genl and xenstore clients
    const { runHostChecks } = await import('../doctor/checks.js');
    const checks = [...await runHostChecks(), ...await this.serviceChecks(flags.socket)];
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

  /** vifqd and xenstore's vifq nodes (without xenstore only vifqd: the xenstored check says why). */
  private async serviceChecks(socket: string): Promise<CheckResult[]> {
    const [{ checkService, checkSlaNodes, checkNetbackRate }, { ControlClient }, { openXenstore }, { VifqError }] = await Promise.all([
      import('../doctor/service-checks.js'), import('../service/control-socket.js'), import('../cli/domains.js'), import('../errors.js'),
    ]);
    const out = await checkService(() => ControlClient.open({ path: socket, timeoutMs: 3000 }), socket);
    let xs;
    try {
      xs = await openXenstore();
    } catch (e) {
      if (!(e instanceof VifqError)) throw e;
      return out;
    }
    try {
      return [...out, ...await checkSlaNodes(xs), ...await checkNetbackRate(xs)];
    } finally {
      await xs.close();
    }
  }
}
