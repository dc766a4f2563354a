/** The CLI's connection to vifqd's control socket (`--socket`, `$VIFQ_CONTROL_SOCKET`). */
import { Flags } from '@oclif/core';

export const DEFAULT_SOCKET = '/run/vifq/control.sock';

/** `--socket` and `--timeout` for the commands that talk to vifqd. */
export const controlFlags = {
  socket: Flags.string({ description: 'vifqd\'s control socket', env: 'VIFQ_CONTROL_SOCKET', default: DEFAULT_SOCKET, helpGroup: 'CONTROL' }),
  timeout: Flags.integer({ description: 'deadline of each request to vifqd, in ms', default: 5000, min: 100, helpGroup: 'CONTROL' }),
};
