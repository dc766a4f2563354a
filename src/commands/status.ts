import { Flags } from '@oclif/core';
import { VifqCommand } from '../cli/base-command.js';
import { controlFlags } from '../cli/control.js';
import type { StatusView } from '../cli/status/view.js';

export default class Status extends VifqCommand {
  static override summary = 'Per uplink and per vif: what vifqd decided and what the vifs are doing';

  static override description = `What vifqd decided and what the vifs are doing: per uplink the line rate and where it comes from, the budget and its use; per vif the domain, priority, weight, limit and why, pending bytes, throughput, time throttled and time in flight, from the last release report.

Needs vifqd running (root: the control socket is root-only). Exit status 3 when vifqd cannot be reached.`;

  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --json | jq \'.vifs[] | {vif, limitBytes, why}\'',
    '<%= config.bin %> status --width 120',
  ];

  static override flags = {
    ...controlFlags,
    width: Flags.integer({ description: 'table width (default: the terminal\'s, else 80)', min: 40 }),
  };

  async run(): Promise<StatusView> {
    const { flags } = await this.parse(Status);
    const [{ ControlClient }, { statusView }, { renderStatus }] = await Promise.all([
      import('../service/control-socket.js'), import('../cli/status/view.js'), import('../cli/status/render.js'),
    ]);
    const client = await ControlClient.open({ path: flags.socket, timeoutMs: flags.timeout });
    let answer;
    try {
      answer = await client.request('status');
    } finally {
      await client.close();
    }
    const view = statusView(answer, await this.names(), new Date());
    if (!this.jsonEnabled()) {
      for (const line of renderStatus(view, flags.width ?? process.stdout.columns ?? 80)) this.log(line);
    }
    return view;
  }

  /** Domain names from xenstore; without xenstore the table shows `?` (vifqd's answer is what matters). */
  private async names(): Promise<Map<number, string>> {
    const { openXenstore, domainNames } = await import('../cli/domains.js');
    const { VifqError } = await import('../errors.js');
    try {
      const xs = await openXenstore();
      try {
        return await domainNames(xs);
      } finally {
        await xs.close();
      }
    } catch (e) {
      if (!(e instanceof VifqError)) throw e;
      if (!this.jsonEnabled()) this.warn(`domain names unavailable: ${e.summary}`);
      return new Map();
    }
  }
}
