/**
 * The layering rules (.dependency-cruiser.cjs, run by `npm run check:static`) catch what they
 * are meant to: a tree that breaks each rule once fails with every rule named, and the
 * same tree without the offending imports passes.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const depcruise = join(repo, 'node_modules/.bin/depcruise');

function cruise(dir: string): { status: number | null; out: string } {
  const r = spawnSync(depcruise, ['--config', join(repo, '.dependency-cruiser.cjs'), '--output-type', 'err', 'src'], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const tsconfig = JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] });

t.test('every layering rule fails a tree that breaks it', async (t) => {
  const dir = t.testdir({
    'tsconfig.json': tsconfig,
    src: {
      netlink: { 'wire.ts': "import { VifqClient } from '../vifq/client.js';\nexport const x = VifqClient;\n" },
      topology: { 'rtnl.ts': "import { YnlCodec } from '../genl/ynl-codec.js';\nexport const y = YnlCodec;\n" },
      xenstore: { 'client.ts': "import { run } from '../service/daemon.js';\nexport const z = run;\n" },
      genl: { 'ynl-codec.ts': 'export class YnlCodec {}\n', 'genl.ts': "import { doctor } from '../commands/doctor.js';\nexport const g = doctor;\n" },
      vifq: { 'client.ts': 'export class VifqClient {}\n' },
      service: { 'daemon.ts': "import { doctor } from '../commands/doctor.js';\nexport const run = doctor;\n" },
      commands: { 'doctor.ts': 'export const doctor = 1;\n' },
      sla: { 'parse.ts': "import { readFileSync } from 'node:fs';\nimport { XenstoreClient } from '../xenstore/client.js';\nexport const p = [readFileSync, XenstoreClient];\n" },
      policy: { 'budget.ts': "import { x } from '../netlink/wire.js';\nexport const b = x;\n" },
    },
  });
  const r = cruise(dir);
  t.not(r.status, 0, 'fails');
  for (const rule of ['io-layers-know-no-upper-layer', 'genl-knows-no-product', 'sla-and-policy-are-pure', 'service-knows-no-command']) {
    t.match(r.out, rule, `names ${rule}`);
  }
  t.match(r.out, /src\/sla\/parse\.ts → (node:)?fs/, 'an I/O module of node in src/sla is caught');
  t.match(r.out, /src\/policy\/budget\.ts → src\/netlink\/wire\.ts/, 'policy importing the netlink layer is caught');
});

t.test('the same layers, used the right way round, pass', async (t) => {
  const dir = t.testdir({
    'tsconfig.json': tsconfig,
    src: {
      netlink: { 'wire.ts': 'export const x = 1;\n' },
      genl: { 'ynl-codec.ts': "import { x } from '../netlink/wire.js';\nexport const c = x;\n" },
      vifq: { 'client.ts': "import { c } from '../genl/ynl-codec.js';\nexport const v = c;\n" },
      sla: { 'parse.ts': "import { b } from '../policy/budget.js';\nexport const p = b;\n" },
      policy: { 'budget.ts': 'export const b = 2;\n' },
      commands: { 'limits.ts': "import { v } from '../vifq/client.js';\nexport const l = v;\n" },
    },
  });
  const r = cruise(dir);
  t.equal(r.status, 0, r.out);
});
