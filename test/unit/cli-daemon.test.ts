/** `vifq daemon` hands its options to the service's own entry (src/service/main.ts) unchanged. */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Config, Errors } from '@oclif/core';
import Daemon from '../../src/commands/daemon.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

async function run(argv: string[]): Promise<{ err: string; exit: number | undefined }> {
  const config = await Config.load(repo);
  let err = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  let exit: number | undefined;
  try {
    await Daemon.run(argv, config);
  } catch (e) {
    if (!(e instanceof Errors.ExitError)) throw e;
    exit = e.oclif.exit;
  } finally {
    process.stderr.write = write;
  }
  return { err, exit };
}

t.test('the service\'s own checks of its options, and its exit status', async (t) => {
  const port = await run(['--metrics-port', '99999']);
  t.equal(port.exit, 2, 'vifqd\'s usage status');
  t.match(port.err, /^vifqd: --metrics-port "99999" is not a port/, 'the option reached main()');
  const level = await run(['--log-level', 'loud']);
  t.equal(level.exit, 2);
  t.match(level.err, /log/);
  const sock = await run(['--control-socket', 'relative.sock']);
  t.match(sock.err, /--control-socket "relative\.sock" is not an absolute path/);
  const bad = await run(['--json']);
  t.equal(bad.exit, 2, 'no --json: the daemon logs JSON lines, it has no result');
});
