import { Flags } from '@oclif/core';
import { VifqCommand } from '../cli/base-command.js';
import { controlFlags } from '../cli/control.js';
import type { SortKey } from '../cli/top/frame.js';
import type { StatusView } from '../cli/status/view.js';

export default class Top extends VifqCommand {
  static override summary = `Live view of vifqd\'s vifs, refreshed each report interval`;

  static override description = `The vifs of vifq status as a live table, sorted by pending bytes, throughput, time in flight (p99) or time throttled, refreshed each release report interval. Keys: p, t, l, h sort; q or Ctrl-C quits and restores the terminal. --once prints one frame; --json prints one status object per interval as NDJSON (with --once: one).`;

  static override examples = ['<%= config.bin %> top', '<%= config.bin %> top --sort throughput', '<%= config.bin %> top --once', '<%= config.bin %> top --json | jq -c \'.vifs[] | [.vif, .pendingBytes]\''];

  static override flags = {
    ...controlFlags,
    sort: Flags.string({ description: 'sort column', options: ['pending', 'throughput', 'latency', 'throttled'], default: 'pending' }),
    once: Flags.boolean({ description: 'one frame (or one JSON object), then exit' }),
    interval: Flags.integer({ description: 'refresh interval in ms (default: vifqd\'s report interval, else 1000)', min: 100 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Top);
    const [{ ControlClient }, { statusView }, frame, { TopTerminal }] = await Promise.all([
      import('../service/control-socket.js'), import('../cli/status/view.js'), import('../cli/top/frame.js'), import('../cli/top/terminal.js'),
    ]);
    let sort = flags.sort as SortKey;
    const client = await ControlClient.open({ path: flags.socket, timeoutMs: flags.timeout });
    const names = new Map<number, string>();
    const read = async (): Promise<StatusView> => statusView(await client.request('status'), names, new Date());
    const live = !flags.once && !this.jsonEnabled() && process.stdout.isTTY === true && process.stdin.isTTY === true;
    let quit: () => void = () => {};
    const quitted = new Promise<void>((resolve) => { quit = resolve; });
    const term = live ? new TopTerminal(process.stdin, process.stdout, (k) => { sort = frame.SORT_BY_KEY[k] ?? sort; void tick(); }, () => quit()) : undefined;
    const emit = (view: StatusView): void => {
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(view)}\n`);
      else if (term) term.draw(frame.renderFrame(view, sort, term.width, term.height, new Date()));
      else this.log(`${frame.renderFrame(view, sort, process.stdout.columns ?? 80, Number.MAX_SAFE_INTEGER, new Date()).join('\n')}\n`);
    };
    let failed: unknown;
    const tick = async (): Promise<StatusView | undefined> => {
      try {
        const v = await read();
        emit(v);
        return v;
      } catch (e) {
        failed = e;
        quit();
        return undefined;
      }
    };
    try {
      await this.names(names);
      term?.enter();
      const first = await tick();
      if (flags.once || first === undefined) {
        if (failed !== undefined) throw failed;
        return;
      }
      const every = flags.interval ?? first.intervalMs ?? 1000;
      const timer = setInterval(() => { void tick(); }, every);
      if (!live) {
        process.once('SIGINT', quit);
        process.once('SIGTERM', quit);
      }
      await quitted;
      clearInterval(timer);
      process.off('SIGINT', quit);
      process.off('SIGTERM', quit);
      if (failed !== undefined) throw failed;
    } finally {
      term?.restore();
      await client.close();
    }
  }

  /** Domain names, best effort (see status). */
  private async names(into: Map<number, string>): Promise<void> {
    const { openXenstore, domainNames } = await import('../cli/domains.js');
    const { VifqError } = await import('../errors.js');
    try {
      const xs = await openXenstore();
      try {
        for (const [k, v] of await domainNames(xs)) into.set(k, v);
      } finally {
        await xs.close();
      }
    } catch (e) {
      if (!(e instanceof VifqError)) throw e;
    }
  }
}
