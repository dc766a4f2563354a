/**
 * `vifq domain`: flag values through the SLA parser, name resolution, the one-transaction
 * write with dom0-owned guest-read-only perms (on a recording transaction: the real xenstored
 * is in test/e2e/cli.test.ts), and the rendering of `domain show`.
 */
import t from 'tap';
import { parseGuestSla } from '../../src/sla/index.js';
import { NothingToSetError, parseSlaArgs, resetSla, SlaArgumentError, slaPerms, writeSla } from '../../src/cli/sla-edit.js';
import { AmbiguousDomainError, domainNames, resolveDomain, UnknownDomainArgError } from '../../src/cli/domains.js';
import { renderDomainShow, type DomainShowResult } from '../../src/cli/domain/show.js';
import { describeFailure, failureLine } from '../../src/cli/failure.js';
import type { XsPerm } from '../../src/xenstore/perms.js';

t.test('set values go through the SLA schema: bad ones name the flag and write nothing', async (t) => {
  t.same(parseSlaArgs({ weight: '300', 'pending-bytes': '64k', priority: 'low', 'timeout-ms': '50', 'pending-packets': 'none' }),
    { priority: 'low', weight: 300, pendingBytes: 65536, pendingPackets: null, timeoutMs: 50 });
  const w0 = t.throws(() => parseSlaArgs({ weight: '0' }), SlaArgumentError) as unknown as SlaArgumentError;
  const f = describeFailure(w0);
  t.equal(f.exitCode, 2);
  t.match(failureLine(f), /^Error: --weight 0: "0" is below the minimum 1 \(write at least 1; nothing was written\)$/);
  t.match(failureLine(describeFailure(t.throws(() => parseSlaArgs({ 'pending-bytes': '12XB' })))), /--pending-bytes 12XB: .*nothing was written/);
  t.throws(() => parseSlaArgs({ priority: 'urgent' }), SlaArgumentError);
  t.throws(() => parseSlaArgs({}), NothingToSetError);
});

t.test('names: a domid, a unique name; unknown and ambiguous are errors listing the domains', async (t) => {
  const names = new Map([[0, 'Domain-0'], [3, 'web'], [4, 'db'], [7, 'db']]);
  t.same(resolveDomain('3', names), { domid: 3, name: 'web' });
  t.same(resolveDomain('web', names), { domid: 3, name: 'web' });
  t.throws(() => resolveDomain('db', names), AmbiguousDomainError);
  t.match(describeFailure(t.throws(() => resolveDomain('db', names))), { message: /2 domains are called 'db': 4, 7/, hint: /domid/ });
  const unknown = t.throws(() => resolveDomain('mail', names));
  t.type(unknown, UnknownDomainArgError);
  t.match(describeFailure(unknown), { exitCode: 4, hint: /web \(3\)/ });
  t.throws(() => resolveDomain('9', names), UnknownDomainArgError, 'an unknown domid too');
  const xs = { directory: async () => ['0', '3', 'x'], tryRead: async (p: string) => (p === '/local/domain/3/name' ? 'web' : undefined) };
  t.same(await domainNames(xs), new Map([[3, 'web']]), 'a domain without a name is left out');
});

/** Records what a transaction did; `conflicts` first attempts fail as xenstored's EAGAIN would. */
function recorder() {
  const attempts: string[][] = [];
  const xs = {
    transaction: async <T>(fn: (tx: never) => Promise<T>): Promise<T> => {
      const ops: string[] = [];
      attempts.push(ops);
      const tx = {
        mkdir: async (p: string) => { ops.push(`mkdir ${p}`); },
        write: async (p: string, v: string) => { ops.push(`write ${p}=${v}`); },
        setPerms: async (p: string, perms: XsPerm[]) => { ops.push(`perms ${p} ${perms.map((x) => `${x.access[0]}${x.domid}`).join(' ')}`); },
        tryRead: async (p: string) => { ops.push(`read ${p}`); return ''; },
        rm: async (p: string) => { ops.push(`rm ${p}`); },
      };
      return fn(tx as never);
    },
  };
  return { xs, attempts };
}

t.test('set: one transaction, every directory and node n0 r<domid>; what it writes parses back', async (t) => {
  const { xs, attempts } = recorder();
  const written = await writeSla(xs, 5, null, { weight: 300, pendingBytes: 65536 });
  t.equal(attempts.length, 1, 'one transaction');
  t.same(attempts[0], [
    'mkdir /local/domain/5/vifq', 'perms /local/domain/5/vifq n0 r5',
    'write /local/domain/5/vifq/weight=300', 'perms /local/domain/5/vifq/weight n0 r5',
    'write /local/domain/5/vifq/pending-bytes=64k', 'perms /local/domain/5/vifq/pending-bytes n0 r5',
  ]);
  const perms = slaPerms(5) as [XsPerm, ...XsPerm[]];
  const parsed = parseGuestSla(5, [{ path: '/local/domain/5/vifq', value: Buffer.alloc(0), perms }, ...written.map((w) => ({ path: w.path, value: Buffer.from(w.value), perms }))]);
  t.same(parsed.findings, [], 'vifqd trusts and accepts every node');
  t.match(parsed.sla.guest, { weight: { value: 300, source: 'guest' }, pendingBytes: { value: 65536 } });

  const vif = recorder();
  await writeSla(vif.xs, 5, 1, { pendingPackets: 32 });
  t.same(vif.attempts[0]?.filter((o) => o.startsWith('mkdir')), ['mkdir /local/domain/5/vifq', 'mkdir /local/domain/5/vifq/vif', 'mkdir /local/domain/5/vifq/vif/1']);
  t.ok(vif.attempts[0]?.filter((o) => o.startsWith('perms')).every((o) => o.endsWith('n0 r5')));

  const reset = recorder();
  t.same(await resetSla(reset.xs, 5, null), { removed: '/local/domain/5/vifq', existed: true });
  t.same(reset.attempts, [['read /local/domain/5/vifq', 'rm /local/domain/5/vifq']]);
});

t.test('domain show renders each value with its source and where the limit came from', async (t) => {
  const r: DomainShowResult = {
    domid: 5, name: 'web', service: 'not-running', findings: [],
    vifs: [{
      vif: 'vif5.0', handle: 0,
      sla: [
        { name: 'priority', value: 'high', source: 'default', path: null },
        { name: 'weight', value: '300', source: 'guest', path: '/local/domain/5/vifq/weight' },
        { name: 'pending-bytes', value: '64k', source: 'host', path: '/local/domain/0/vifq/default/pending-bytes' },
      ],
      limits: { from: 'sla', limitBytes: 65536, limitPackets: null, kernelLimitBytes: null, why: [{ code: 'sla-only', detail: 'vifqd is not running' }] },
    }],
  };
  const text = renderDomainShow(r).join('\n');
  t.comment(text);
  t.match(text, /domain web \(5\), vifqd not running/);
  t.match(text, /weight\s+300\s+guest node \/local\/domain\/5\/vifq\/weight/);
  t.match(text, /priority\s+high\s+built-in default/);
  t.match(text, /pending-bytes\s+64k\s+host default/);
  t.match(text, /limit\s+65536 bytes, no packet cap \(from the SLA alone\)/);
});
