/**
 * The CLI's command list and its bundle: src/cli/commands.ts names every file under
 * src/commands/ by its oclif id; package.json uses oclif's explicit strategy on it; the bundle
 * `make build` writes (dist/bundle/vifq.js) answers as tsc's copy does (VIFQ_CLI_UNBUNDLED=1)
 * and shares dist's error classes instead of carrying its own. The bundle checks are skipped
 * when it is not built.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Interfaces } from '@oclif/core';
import { COMMANDS } from '../../src/cli/commands.js';
import { pjsonWithTarget } from '../../src/cli/main.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const pjson = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Interfaces.PJSON;

/** oclif's id of a command file: its path under src/commands, `/` -> `:`, a trailing `index` dropped. */
function commandIds(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ts')) out.push(relative(dir, p).replace(/\.ts$/, '').replace(/\/index$/, '').split('/').join(':'));
    }
  };
  walk(dir);
  return out.sort();
}

t.test('COMMANDS has every command file under src/commands, by its oclif id', async (t) => {
  t.same(Object.keys(COMMANDS).sort(), commandIds(join(repo, 'src/commands')));
});

t.test('package.json: explicit discovery of COMMANDS in tsc\'s copy of src/cli/main.ts', async (t) => {
  t.same(pjson.oclif.commands, { strategy: 'explicit', target: './dist/cli/main.js', identifier: 'COMMANDS' });
  t.same(pjsonWithTarget(pjson, 'dist/bundle/vifq.js').oclif.commands, { strategy: 'explicit', target: './dist/bundle/vifq.js', identifier: 'COMMANDS' });
  t.equal(pjson.oclif.commands && typeof pjson.oclif.commands === 'object' ? pjson.oclif.commands.target : '', './dist/cli/main.js', 'the argument is not changed');
  t.throws(() => pjsonWithTarget({ ...pjson, oclif: { ...pjson.oclif, commands: './dist/commands' } }, 'x.js'), /must be \{strategy: "explicit"/);
});

const bundle = join(repo, 'dist/bundle/vifq.js');
const built = existsSync(bundle) && existsSync(join(repo, 'dist/cli/main.js')) && statSync(bundle).mtimeMs >= statSync(join(repo, 'dist/cli/main.js')).mtimeMs;
const skip = built ? false : 'needs the bundle newer than tsc\'s dist/: make build';

/** bin/vifq in a child, bundled or not (`env -u`: tap puts its loaders into every child's NODE_OPTIONS). */
function vifq(args: string[], unbundled: boolean): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, VIFQ_CONTROL_SOCKET: '/nonexistent/vifq-test/control.sock', COLUMNS: '100' };
  if (unbundled) env['VIFQ_CLI_UNBUNDLED'] = '1';
  else delete env['VIFQ_CLI_UNBUNDLED'];
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, join(repo, 'bin/vifq'), ...args], { cwd: repo, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('the bundle answers as tsc\'s copy: --help of every command, a failing status --json', { skip }, async (t) => {
  for (const args of [['--help'], ...Object.keys(COMMANDS).map((id) => [...id.split(':'), '--help']), ['autocomplete', '--help'], ['status', '--json'], ['limits', 'set', '--bytes', 'x', 'vif1.0']]) {
    const b = vifq(args, false);
    const u = vifq(args, true);
    t.same(b, u, `vifq ${args.join(' ')}`);
  }
  const s = vifq(['status', '--json'], false);
  t.equal(s.status, 3, 'status: exit 3 without vifqd');
  t.match(JSON.parse(s.stdout), { error: { name: 'ControlConnectError', exitCode: 3 } }, 'the typed error, from the bundle');
});

t.test('the bundle imports dist\'s error classes and netlink layer, and has no copy of them', { skip }, async (t) => {
  const text = readdirSync(join(repo, 'dist/bundle')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(repo, 'dist/bundle', f), 'utf8')).join('\n');
  t.match(text, /from "\.\.\/errors\.js"/);
  t.notMatch(text, /class VifqError\b/, 'no second VifqError (instanceof would fail across the copies)');
  t.notMatch(text, /vifq_nlsock\.node/, 'the addon\'s loader stays in dist/netlink/transport.js');
  t.notMatch(text, /node_modules\/typescript\//, 'typescript is not bundled');
});
