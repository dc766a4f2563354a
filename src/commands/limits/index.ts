import { Flags } from '@oclif/core';
import { VifqCommand } from '../../cli/base-command.js';
import type { LimitsResult } from '../../cli/limits/limits.js';

export default class Limits extends VifqCommand {
  static override summary = `The kernel's view of every vif (vif-get dump), without vifqd`;

  static override description = `The kernel's view of every vif, without vifqd: the limits netback holds (vif-get dump over generic netlink), pending bytes now and counters since the vif was created. --json prints the spec's attribute names, as the kernel's ynl CLI does (tools/net/ynl/cli.py --spec vifq.yaml --dump vif-get).`;

  static override examples = ['<%= config.bin %> limits', '<%= config.bin %> limits --json | jq \'.vifs[] | {ifname, "limit-bytes"}\''];

  static override flags = {
    width: Flags.integer({ description: 'table width (default: the terminal\'s, else 80)', min: 40 }),
  };

  async run(): Promise<LimitsResult> {
    const { flags } = await this.parse(Limits);
    const [{ VifqClient }, { listLimits, renderLimits }] = await Promise.all([import('../../vifq/client.js'), import('../../cli/limits/limits.js')]);
    const client = await VifqClient.open();
    try {
      const result = await listLimits(client);
      if (!this.jsonEnabled()) for (const l of renderLimits(result, flags.width ?? process.stdout.columns ?? 80)) this.log(l);
      return result;
    } finally {
      client.close();
    }
  }
}
