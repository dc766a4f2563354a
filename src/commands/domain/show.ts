import { VifqCommand } from '../../cli/base-command.js';
import { controlFlags } from '../../cli/control.js';
import { domainArg } from '../../cli/domain/flags.js';
import type { DomainShowResult } from '../../cli/domain/show.js';

export default class DomainShow extends VifqCommand {
  static override summary = `A domain's effective SLA, each value's source, and its limits`;

  static override description = `A domain's effective SLA per vif, each value with its source (built-in default, host default, guest node, per-vif override) and the resulting limits: vifqd's decision and its reasons when vifqd runs, the SLA's caps alone otherwise (said so).`;

  static override examples = ['<%= config.bin %> domain show web', '<%= config.bin %> domain show 5 --json'];

  static override args = domainArg;
  static override flags = { ...controlFlags };

  async run(): Promise<DomainShowResult> {
    const { args, flags } = await this.parse(DomainShow);
    const [{ withDomain }, { domainShow, renderDomainShow }, { ControlClient }] = await Promise.all([
      import('../../cli/domains.js'), import('../../cli/domain/show.js'), import('../../service/control-socket.js'),
    ]);
    const result = await withDomain(args.domain, (xs, domid, name) =>
      domainShow(xs, () => ControlClient.open({ path: flags.socket, timeoutMs: flags.timeout }), domid, name));
    if (!this.jsonEnabled()) for (const l of renderDomainShow(result)) this.log(l);
    return result;
  }
}
