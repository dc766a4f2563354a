import { Flags } from '@oclif/core';
import { VifqCommand } from '../cli/base-command.js';
import { controlFlags } from '../cli/control.js';

export default class Events extends VifqCommand {
  static override summary = 'Follow vifqd: release reports per vif and reconcile passes, as lines or NDJSON';

  static override description = `Streams vifqd's events until Ctrl-C (or --count): each release report (per vif: throughput, pending bytes, time throttled, time in flight p99 over the interval), each pass (what it applied and why), and each vif a pass found added or removed (vif-add, vif-del). --json prints one JSON object per line (NDJSON): {"event", "at", "data"}. --domain keeps the release reports of one domain.`;

  static override examples = ['<%= config.bin %> events', '<%= config.bin %> events --domain web', '<%= config.bin %> events --json --count 10 | jq -c .data'];

  static override flags = {
    ...controlFlags,
    domain: Flags.string({ description: 'only this domain\'s vifs (domid or name)' }),
    count: Flags.integer({ description: 'exit after this many events', min: 1 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Events);
    const [{ ControlClient }, { eventRecord, eventLines }] = await Promise.all([import('../service/control-socket.js'), import('../cli/events/format.js')]);
    const domid = flags.domain === undefined ? null : await this.domid(flags.domain);
    const client = await ControlClient.open({ path: flags.socket, timeoutMs: flags.timeout });
    const sub = await client.subscribe('events');
    const stop = (): void => { sub.close(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let n = 0;
    try {
      for await (const ev of sub) {
        const r = eventRecord(ev.event, ev.data, new Date(), domid);
        if (r === null) continue;
        if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(r)}\n`);
        else for (const l of eventLines(r)) this.log(l);
        if (flags.count !== undefined && ++n >= flags.count) break;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await client.close();
    }
  }

  /** A number is a domid as is (vifqd may report a domain xenstore no longer names); a name resolves through xenstore. */
  private async domid(arg: string): Promise<number> {
    if (/^\d+$/.test(arg)) return Number(arg);
    const { openXenstore, domainNames, resolveDomain } = await import('../cli/domains.js');
    const xs = await openXenstore();
    try {
      return resolveDomain(arg, await domainNames(xs)).domid;
    } finally {
      await xs.close();
    }
  }
}
