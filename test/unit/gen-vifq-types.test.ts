import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, main } from '../../scripts/gen-vifq-types.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const kernelSpec = join(repo, 'kernel-patch/vifq.yaml');

t.test('the checked-in src/vifq/generated.ts is what the kernel spec generates', async (t) => {
  t.equal(readFileSync(join(repo, 'src/vifq/generated.ts'), 'utf8'), generate(kernelSpec, 'kernel-patch/vifq.yaml'));
});

t.test('--check fails on a stale file and says how to regenerate; passes once written', async (t) => {
  const dir = t.testdir({ 'out.ts': '// stale\n' });
  const out = join(dir, 'out.ts');
  const errors: string[] = [];
  const logs: string[] = [];
  t.intercept(console, 'error', { value: (m: string) => errors.push(m) });
  t.intercept(console, 'log', { value: (m: string) => logs.push(m) });
  t.equal(main(['--check', '--out', out]), 1);
  t.match(errors[0], /is stale.*Run: node --import tsx scripts\/gen-vifq-types.ts/);
  t.equal(main(['--out', out]), 0);
  t.equal(main(['--check', '--out', out]), 0);
  t.match(logs.at(-1), /is up to date/);
});

t.test('a spec change shows in the output: named limits, consts, new attributes, enums, version', async (t) => {
  const yaml = readFileSync(kernelSpec, 'utf8')
    .replace(/^name: vifq$/m, 'name: vifq\nversion: 2')
    .replace("        name: group\n        type: u32\n", "        name: group\n        type: u32\n        checks:\n          max: s32-max\n")
    .replace("      -\n        name: lowprio-timeout-sends",
      "      -\n        name: weight\n        type: u16\n        checks:\n          max: domid-max\n      -\n        name: lowprio-timeout-sends");
  const dir = t.testdir({ 'spec.yaml': yaml });
  const text = generate(join(dir, 'spec.yaml'), 'spec.yaml');
  t.match(text, /version: 2 \} as const/);
  t.match(text, /Checks: max 2147483647[^\n]*\n\s+\*\/\n\s+group\?: number;/, 'a named limit (s32-max) resolves');
  t.match(text, /\/\*\* Checks: max 32751 \(enforced when encoding\)\. \*\/\n\s+weight\?: number;/, 'a const limit resolves');
  t.match(text, /export type VifqPriority = \(typeof VIFQ_PRIORITY_NAMES\)\[number\];/);
  t.match(text, /'vif-set': \{ request: VifqVifSetRequest; reply: undefined; adminPerm: true \};/);
  t.notSame(text, generate(kernelSpec, 'spec.yaml'));
});
