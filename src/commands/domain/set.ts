import { Flags } from '@oclif/core';
import { VifqCommand } from '../../cli/base-command.js';
import { domainArg, vifFlag } from '../../cli/domain/flags.js';
import type { SlaWrite } from '../../cli/sla-edit.js';

export interface DomainSetResult {
  domid: number;
  name: string | null;
  handle: number | null;
  written: SlaWrite[];
}

export default class DomainSet extends VifqCommand {
  static override summary = `Set a guest's SLA in xenstore (one transaction, dom0-owned, guest read-only)`;

  static override description = `Set a guest's SLA (or one vif's overrides) in xenstore, dom0-owned and guest read-only (n0 r<domid>), all values in one transaction. Values are checked by the same parser vifqd reads them with; a bad one writes nothing. vifqd applies the change on its next pass (it watches the nodes).`;

  static override examples = [
    '<%= config.bin %> domain set web --priority low --timeout-ms 50',
    '<%= config.bin %> domain set 5 --weight 300 --pending-bytes 64k',
    '<%= config.bin %> domain set 5 --vif 1 --pending-packets 32',
    '<%= config.bin %> domain set 5 --pending-bytes none',
  ];

  static override args = domainArg;
  static override flags = {
    priority: Flags.string({ description: 'high or low (low: waits behind high-priority traffic, up to --timeout-ms)' }),
    weight: Flags.string({ description: 'share among the uplink\'s active high-priority vifs, 1-1000 (default 100)' }),
    'pending-bytes': Flags.string({ description: 'cap on pending bytes whatever the policy computes: 64k, 1m, or none' }),
    'pending-packets': Flags.string({ description: 'cap on pending packets, or none' }),
    'timeout-ms': Flags.string({ description: 'how long a low-priority vif may wait, 1-30000 ms' }),
    vif: vifFlag,
  };

  async run(): Promise<DomainSetResult> {
    const { args, flags } = await this.parse(DomainSet);
    const [{ parseSlaArgs, writeSla }, { withDomain }] = await Promise.all([import('../../cli/sla-edit.js'), import('../../cli/domains.js')]);
    // parse first: a bad value fails before anything is opened or written
    const values = parseSlaArgs({
      priority: flags.priority, weight: flags.weight, 'pending-bytes': flags['pending-bytes'], 'pending-packets': flags['pending-packets'], 'timeout-ms': flags['timeout-ms'],
    });
    const handle = flags.vif ?? null;
    const result = await withDomain(args.domain, async (xs, domid, name) => {
      return { domid, name, handle, written: await writeSla(xs, domid, handle, values) };
    });
    if (!this.jsonEnabled()) {
      for (const w of result.written) this.log(`${w.path} = ${w.value}`);
      this.log(`written for ${result.name ?? 'domain'} (${result.domid}) in one transaction, owner dom0, guest read-only`);
    }
    return result;
  }
}
