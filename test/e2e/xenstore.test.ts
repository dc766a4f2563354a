/**
 * The xenstore client against the real xenstored in the lab (Xen in QEMU).
 * Each case runs test/e2e/drivers/xenstore-driver.mjs in dom0 (compiled
 * client from /vifq/dist) and checks its JSON; guest-side cases use the
 * xenstore-* tools inside domu1. The xenstored restart case is last: a
 * restarted xenstored starts with an empty store and no guests.
 */
import t from 'tap';

import { Lab, type ExecResult as CmdResult } from '../lab/lab.js';

/** Guest config and overrides for the extra guest of the watch case (`xl create <cfg> <overrides...>`). */
const DOMU_CFG = process.env['VIFQ_LAB_DOMU_CFG'] ?? '/lab/domU.cfg';
const EXTRA_GUEST = 'domu9';
const EXTRA_GUEST_OVERRIDES = [`name="${EXTRA_GUEST}"`, 'vif=[]'];

const DRIVER = 'node /vifq/test/e2e/drivers/xenstore-driver.mjs';

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function lastJson(r: CmdResult): Record<string, unknown> {
  const all = jsonLines(r.stdout);
  const last = all[all.length - 1];
  if (!last) throw new Error(`driver printed no JSON (code ${r.code}): ${r.stdout}\n${r.stderr}`);
  return last;
}

const lab = await Lab.boot({ name: 'xenstore', guests: 1 });
t.teardown(() => lab.close({ collect: !t.passing() }));

async function dom0(cmd: string, timeoutMs = 60_000): Promise<CmdResult> {
  return lab.dom0(cmd, { timeoutMs });
}

/** Starts a driver scenario in the background in dom0, waits for its `ready` line. */
async function startBackground(scenario: string, log: string): Promise<void> {
  await dom0(`rm -f ${log}; (${DRIVER} ${scenario} > ${log} 2>&1 &)`);
  const r = await dom0(`for i in $(seq 1 100); do grep -q '"ready":true' ${log} && exit 0; sleep 0.1; done; cat ${log}; exit 1`);
  if (r.code !== 0) throw new Error(`driver ${scenario} never became ready: ${r.stdout}`);
}

/** Waits for a background driver to print its `done` line and returns every line. */
async function waitDone(log: string, seconds: number): Promise<Array<Record<string, unknown>>> {
  const r = await dom0(
    `for i in $(seq 1 ${seconds * 10}); do grep -q '"done":true' ${log} && break; sleep 0.1; done; cat ${log}`,
    (seconds + 30) * 1000,
  );
  return jsonLines(r.stdout);
}

const guestDomid = Number((await dom0('xl domid domu1')).stdout.trim());

t.test('the client is built and xenstored answers', async (t) => {
  const r = await dom0('test -f /vifq/dist/xenstore/index.js && xenstore-read /local/domain/0/name');
  t.equal(r.code, 0, `dist present and xenstored up: ${r.stderr}`);
  t.ok(guestDomid > 0, `domu1 has domid ${guestDomid}`);
});

t.test('all operations round trip against xenstored', async (t) => {
  const r = await dom0(`${DRIVER} ops`);
  const res = lastJson(r);
  t.equal(r.code, 0, JSON.stringify(res));
  t.equal(res['ok'], true);
  const checks = res['checks'] as Record<string, boolean>;
  for (const name of ['read', 'readBytes', 'mkdirEmpty', 'mkdirKeepsValue', 'directory', 'pipelined', 'setPerms', 'enoent', 'e2big', 'transaction', 'abort', 'rm']) {
    t.equal(checks[name], true, name);
  }
});

t.test('concurrent transactions: one gets EAGAIN, the helper retries, the count is exact', async (t) => {
  const r = await dom0(`${DRIVER} txn-conflict`);
  const res = lastJson(r);
  t.equal(r.code, 0, JSON.stringify(res));
  t.equal(res['final'], 102);
  t.ok((res['retriedAttempts'] as number) >= 1, 'at least one attempt was retried');
});

t.test('a guest cannot write a dom0-owned node; the trust helper agrees', async (t) => {
  const prep = lastJson(await dom0(`${DRIVER} as-guest ${guestDomid}`));
  t.equal(prep['ok'], true, JSON.stringify(prep));
  const nodes = prep['nodes'] as { readOnly: string; guestOwned: string };
  t.same(prep['trusted'], { readOnly: true, guestOwned: false });

  const read = await lab.guest(1, `xenstore-read ${nodes.readOnly}`);
  t.equal(read.code, 0, `guest may read: ${read.stderr}`);
  t.equal(read.stdout.trim(), 'secret');

  const write = await lab.guest(1, `xenstore-write ${nodes.readOnly} hacked`);
  t.not(write.code, 0, 'guest write refused (xenstore-write)');
  // Debian's xenstore-write prints no errno: xs-raw shows xenstored's own reply
  const raw = await lab.guest(1, `xs-raw write ${nodes.readOnly} hacked`);
  t.equal(raw.stdout.trim(), 'ERROR EACCES', 'xenstored answers the guest EACCES');
  t.equal((await dom0(`xenstore-read ${nodes.readOnly}`)).stdout.trim(), 'secret', 'value unchanged');

  const own = await lab.guest(1, `xenstore-write ${nodes.guestOwned} mine`);
  t.equal(own.code, 0, `guest may write its own node: ${own.stderr}`);
  t.equal((await dom0(`xenstore-read ${nodes.guestOwned}`)).stdout.trim(), 'mine');
  await dom0(`xenstore-rm ${nodes.guestOwned} /local/domain/0/vifq-test`);
});

t.test('watches fire on xl create and xl destroy', async (t) => {
  const log = '/tmp/vifq-xs-watch.jsonl';
  const seconds = 45;
  await startBackground(`watch ${seconds}`, log);
  const create = await dom0(`xl create ${DOMU_CFG} ${EXTRA_GUEST_OVERRIDES.map((o) => `'${o}'`).join(' ')}`, 90_000);
  t.equal(create.code, 0, `xl create: ${create.stderr}`);
  const domid = Number((await dom0(`xl domid ${EXTRA_GUEST}`)).stdout.trim());
  t.ok(domid > 0, `${EXTRA_GUEST} is domain ${domid}`);
  const destroy = await dom0(`xl destroy ${EXTRA_GUEST}`, 60_000);
  t.equal(destroy.code, 0, `xl destroy: ${destroy.stderr}`);
  const lines = await waitDone(log, seconds);
  const events = lines.filter((l) => l['event'] === 'watch');
  const paths = events.map((e) => String(e['path']));
  t.ok(paths.includes('/local/domain'), 'initial event on registration');
  t.ok(paths.some((p) => p.startsWith(`/local/domain/${domid}`)), `events under /local/domain/${domid}`);
  t.ok(paths.includes('@introduceDomain'), '@introduceDomain fired');
  t.ok(paths.filter((p) => p === '@releaseDomain').length >= 2, '@releaseDomain fired on registration and on destroy');
  t.equal(lines.at(-1)?.['ok'], true);
});

t.test('xenstored killed and restarted: the client reconnects, re-watches and reports the gap', async (t) => {
  const log = '/tmp/vifq-xs-reconnect.jsonl';
  await startBackground('reconnect 60', log);
  // xenstored is down for a measured 1 s outage: from when the old one has gone, not from the kill
  const restart = await dom0('p=$(cat /run/xenstored.pid); kill $p; for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.05; done; sleep 1; xenstored --pid-file=/run/xenstored.pid');
  t.equal(restart.code, 0, `restart: ${restart.stderr}`);
  const lines = await waitDone(log, 60);
  const done = lines.at(-1) ?? {};
  t.equal(done['ok'], true, JSON.stringify(done));
  const disc = lines.find((l) => l['event'] === 'disconnected');
  const rec = lines.find((l) => l['event'] === 'reconnected');
  t.ok(disc, 'disconnected reported');
  t.ok(rec, 'reconnected reported');
  t.ok((rec?.['downtimeMs'] as number) >= 900, `downtime ${String(rec?.['downtimeMs'])} ms covers the 1 s outage`);
  t.same(rec?.['watches'], ['/local/domain/0/vifq-test/reconnect']);
  t.ok(lines.some((l) => l['event'] === 'watch' && l['reconnect'] === true), 'watch fired once after re-registering');
  t.equal(done['sawWriteAfter'], true, 'events flow on the new connection');
});
