import { Flags } from '@oclif/core';
import { VifqCommand } from '../cli/base-command.js';

export default class Daemon extends VifqCommand {
  static override summary = 'Run vifqd in the foreground (what the systemd unit starts)';

  static override description = `Runs the vifqd service in this process until SIGTERM/SIGINT: the same entry as bin/vifqd (src/service/main.ts), its log as JSON lines on stdout. Exit status: 0 after a clean stop, 2 on bad options, 1 when it cannot start.`;

  static override examples = ['<%= config.bin %> daemon', '<%= config.bin %> daemon --log-level debug --metrics-port 0', '<%= config.bin %> daemon --once'];

  static override enableJsonFlag = false;

  static override flags = {
    'log-level': Flags.string({ description: 'fatal, error, warn, info, debug, trace or silent (default $VIFQD_LOG_LEVEL, else info)' }),
    once: Flags.boolean({ description: 'one pass, then exit (limits kept)' }),
    'metrics-port': Flags.string({ description: 'Prometheus endpoint on 127.0.0.1 (default 9851; 0: off)' }),
    'control-socket': Flags.string({ description: 'control socket path, or off (default /run/vifq/control.sock)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Daemon);
    const argv: string[] = [];
    for (const name of ['log-level', 'metrics-port', 'control-socket'] as const) {
      const v = flags[name];
      if (v !== undefined) argv.push(`--${name}`, v);
    }
    if (flags.once) argv.push('--once');
    const { main } = await import('../service/main.js');
    const code = await main(argv);
    // exit as bin/vifqd does: a stopped vifqd's exit status is final, whatever handle a library left open
    this.exit(code);
  }
}
