import { Args, Flags } from '@oclif/core';
import { VifqCommand } from '../../cli/base-command.js';
import { controlFlags } from '../../cli/control.js';
import type { VifSelector, VifSettings } from '../../vifq/types.js';

export interface LimitsSetResult {
  vif: VifSelector;
  set: VifSettings;
  /** vifqd answered on its control socket: it sets every vif's limits on each pass */
  vifqdRunning: boolean;
  /** what the warning on stderr says (oclif prints no warnings with --json): vifqd will override this */
  warning: string | null;
}

export default class LimitsSet extends VifqCommand {
  static override summary = 'A one-off limit on one vif, straight to the kernel';

  static override description = `A one-off limit on one vif, straight to the kernel (vif-set). For trying things out: when vifqd runs it sets every vif's limits on its next pass and overrides this (vifq warns); to change what vifqd decides, use vifq domain set. 0 bytes or packets: no limit (stock netback).`;

  static override examples = ['<%= config.bin %> limits set vif5.0 --bytes 64k --packets 64', '<%= config.bin %> limits set 12 --priority low --timeout-ms 50', '<%= config.bin %> limits set vif5.0 --bytes 0 --packets 0'];

  static override args = { vif: Args.string({ description: 'vif<domid>.<handle>, or its ifindex', required: true }) };

  static override flags = {
    bytes: Flags.string({ description: 'pending bytes limit: 64k, 1m, or 0 (none)' }),
    packets: Flags.string({ description: 'pending packets limit, or 0 (none)' }),
    priority: Flags.string({ description: 'high or low' }),
    'timeout-ms': Flags.string({ description: 'how long a low-priority vif may wait, 1-30000 ms' }),
    socket: controlFlags.socket,
  };

  async run(): Promise<LimitsSetResult> {
    const { args, flags } = await this.parse(LimitsSet);
    const [{ parseVifSelector, parseLimitArgs }, { VifqClient }, { ControlClient }] = await Promise.all([
      import('../../cli/limits/limits.js'), import('../../vifq/client.js'), import('../../service/control-socket.js'),
    ]);
    const vif = parseVifSelector(args.vif);
    const set = parseLimitArgs(flags);
    const client = await VifqClient.open();
    try {
      await client.setVif(vif, set);
    } finally {
      client.close();
    }
    const vifqdRunning = await ControlClient.open({ path: flags.socket, timeoutMs: 1000 }).then(async (c) => { await c.close(); return true; }, () => false);
    const warning = vifqdRunning ? `vifqd is running (${flags.socket}) and will set ${args.vif}'s limits again on its next pass: change its SLA with \`vifq domain set\` instead, or stop vifqd` : null;
    if (warning !== null) this.warn(warning);
    if (!this.jsonEnabled()) this.log(`set ${args.vif}: ${Object.entries(set).map(([k, v]) => `${k} ${String(v)}`).join(', ')}`);
    return { vif, set, vifqdRunning, warning };
  }
}
