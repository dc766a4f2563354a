import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { Config, Errors } from '@oclif/core';
import { VifqCommand } from '../../src/cli/base-command.js';
import { describeFailure, failureLine } from '../../src/cli/failure.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { VifNotFoundError, VifqUnavailableError } from '../../src/vifq/errors.js';
import { FamilyNotFoundError } from '../../src/genl/errors.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

t.test('a typed error: its exit code, the message without the hint, the hint, the causes', async (t) => {
  const err = new VifqUnavailableError(new FamilyNotFoundError('vifq'));
  const f = describeFailure(err);
  t.equal(f.name, 'VifqUnavailableError');
  t.equal(f.exitCode, EXIT.kernelMismatch);
  t.notMatch(f.message, /vifq doctor/, 'the message does not carry the hint');
  t.match(f.hint, /vifq doctor/);
  t.match(f.causes, [/^FamilyNotFoundError: generic netlink family "vifq" is not registered/]);
  const line = failureLine(f);
  t.equal(line.split('\n').length, 1, 'one line');
  t.equal(line.split('vifq doctor').length - 1, 1, 'the hint once, not twice');
  t.equal(describeFailure(new VifNotFoundError('ifindex 9')).exitCode, EXIT.notFound);
});

t.test('usage errors keep oclif\'s status; anything else is an internal error (70) that asks for a report', async (t) => {
  t.match(describeFailure(new Errors.CLIError('Nonexistent flag: --x\nSee more help with --help', { exit: 2 })),
    { name: 'UsageError', message: 'Nonexistent flag: --x', exitCode: 2 });
  t.match(describeFailure(new TypeError('x is undefined')), { name: 'InternalError', message: 'TypeError: x is undefined', exitCode: 70, hint: /bug/ });
});

class Boom extends VifqCommand {
  static override description = 'test command';
  async run(): Promise<void> {
    await this.parse(Boom);
    throw new VifqUnavailableError();
  }
}

class Fine extends VifqCommand {
  async run(): Promise<{ ok: true }> {
    await this.parse(Fine);
    return { ok: true };
  }
}

async function runCmd(t: Test, argv: string[], run: (argv: string[], config: Config) => Promise<unknown> = (a, c) => Boom.run(a, c)): Promise<{ out: string; err: string; exit: number | undefined }> {
  const config = await Config.load(repo);
  let out = '';
  let err = '';
  t.intercept(process.stdout, 'write', { value: (s: string) => { out += s; return true; } });
  t.intercept(process.stderr, 'write', { value: (s: string) => { err += s; return true; } });
  let exit: number | undefined;
  try {
    await run(argv, config);
  } catch (e) {
    if (!(e instanceof Errors.ExitError)) throw e;
    exit = e.oclif.exit;
  }
  return { out, err, exit };
}

t.test('a command that throws: exit status from the error, one stderr line, or the --json error object', async (t) => {
  const human = await runCmd(t, []);
  t.equal(human.exit, 3);
  t.equal(human.out, '');
  t.equal(human.err.trimEnd().split('\n').length, 1, `one line: ${human.err}`);
  t.match(human.err, /^Error: the vifq generic netlink family is not registered.*\(load the vifq build.*`vifq doctor`\)\n$/);
  const json = await runCmd(t, ['--json']);
  t.equal(json.exit, 3);
  t.equal(json.err, '');
  t.match(JSON.parse(json.out), { error: { name: 'VifqUnavailableError', exitCode: 3, hint: /vifq doctor/, message: /not registered/ } });
  const usage = await runCmd(t, ['--nope']);
  t.equal(usage.exit, 2, 'a bad flag is a usage error (2)');
  t.match(usage.err, /^Error: Nonexistent flag: --nope \(see --help\)\n$/);
  const ok = await runCmd(t, ['--json'], (a, c) => Fine.run(a, c));
  t.equal(ok.exit, undefined);
  t.same(JSON.parse(ok.out), { ok: true });
});
