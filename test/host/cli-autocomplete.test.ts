/**
 * Shell completion (@oclif/plugin-autocomplete 3.2, the last line for @oclif/core 4 and
 * Node 20): `vifq autocomplete bash` writes the bash setup into the CLI's cache directory; the
 * completion function it defines, run in a real bash with COMP_WORDS as readline sets them,
 * offers every command, a topic's subcommands and a command's flags. Needs bash and a built
 * dist/; no root. tap puts its loaders into every child's NODE_OPTIONS, whatever env we pass:
 * `env -u NODE_OPTIONS` takes them out again.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bash = spawnSync('bash', ['--version']).status === 0;

t.test('vifq autocomplete bash: the completion lists the commands, subcommands and flags', { skip: bash ? false : 'bash is not installed' }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'vifq-ac-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache };
  delete env['VIFQ_CACHE_DIR'];
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, join(repo, 'bin/vifq'), 'autocomplete', 'bash'], { cwd: repo, env, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const setup = join(cache, 'vifq/autocomplete/bash_setup');
  t.match(r.stdout, `printf "$(vifq autocomplete script bash)" >> ~/.bashrc`, 'the setup instructions');
  t.ok(existsSync(setup), `the setup file is in the cache: ${setup}`);
  t.match(readFileSync(setup, 'utf8'), join(cache, 'vifq/autocomplete/functions/bash/vifq.bash'));

  // what bash offers for a command line: the completion function's COMPREPLY, each word once
  const complete = (...words: string[]): string[] => {
    const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _vifq_autocomplete; complete -p vifq >&2; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const b = spawnSync('bash', ['-c', script, 'complete', setup, ...words], { encoding: 'utf8' });
    t.equal(b.status, 0, `bash: ${b.stderr}`);
    t.match(b.stderr, /complete -F _vifq_autocomplete vifq/, 'registered for vifq');
    return [...new Set(b.stdout.split('\n').filter(Boolean))].sort();
  };
  t.same(complete('vifq', ''), ['autocomplete', 'daemon', 'doctor', 'domain', 'events', 'limits', 'status', 'top'], 'vifq <TAB>: every command');
  t.same(complete('vifq', 'do'), ['doctor', 'domain'], 'vifq do<TAB>');
  t.same(complete('vifq', 'domain', ''), ['reset', 'set', 'show'], 'vifq domain <TAB>: the subcommands');
  t.same(complete('vifq', 'top', '--s'), ['--socket', '--sort'], 'vifq top --s<TAB>: the flags');
  t.same(complete('vifq', 'limits', 'set', '--b'), ['--bytes'], 'vifq limits set --b<TAB>');
});
