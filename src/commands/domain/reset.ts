import { VifqCommand } from '../../cli/base-command.js';
import { domainArg, vifFlag } from '../../cli/domain/flags.js';

export interface DomainResetResult {
  domid: number;
  name: string | null;
  removed: string;
  existed: boolean;
}

export default class DomainReset extends VifqCommand {
  static override summary = `Remove a guest's SLA (or one vif's overrides) from xenstore`;

  static override description = 'Remove a guest\'s SLA from xenstore (all of /local/domain/<domid>/vifq, per-vif overrides included), or one vif\'s overrides with --vif; the host defaults apply again.';

  static override examples = ['<%= config.bin %> domain reset web', '<%= config.bin %> domain reset 5 --vif 1'];

  static override args = domainArg;
  static override flags = { vif: vifFlag };

  async run(): Promise<DomainResetResult> {
    const { args, flags } = await this.parse(DomainReset);
    const [{ resetSla }, { withDomain }] = await Promise.all([import('../../cli/sla-edit.js'), import('../../cli/domains.js')]);
    const result = await withDomain(args.domain, async (xs, domid, name) => {
      return { domid, name, ...(await resetSla(xs, domid, flags.vif ?? null)) };
    });
    if (!this.jsonEnabled()) this.log(result.existed ? `removed ${result.removed}` : `${result.removed} did not exist: nothing to do`);
    return result;
  }
}
