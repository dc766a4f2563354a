/**
 * `vifq top` in a real terminal: the compiled CLI (dist/, `make build`) in a tmux pane against
 * a real control server serving a real Vifqd (fake vifq kernel). The table shows, updates when
 * a release report comes, re-sorts on a key, and q leaves the alternate screen with the cursor
 * back. Plus the frame and --once/--json forms without a terminal.
 */
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderFrame, sortVifs } from '../../src/cli/top/frame.js';
import type { StatusView, VifStatus } from '../../src/cli/status/view.js';
import { servingVifqd } from '../helpers/service-fakes.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'vifq-cli-top-'));
t.teardown(() => { rmSync(base, { recursive: true, force: true }); });
/**
 * The CLI runs as an operator would: `env -i` with a plain environment, since tap's processinfo
 * puts its loaders (NODE_OPTIONS) into every child's environment, tmux's server included.
 */
const cli = (args: string): string[] => ['env', '-i', `PATH=${process.env['PATH'] ?? '/usr/bin:/bin'}`, 'TERM=xterm-256color', `XENSTORED_PATH=${join(base, 'no-xs')}`, 'node', join(repo, 'bin/vifq'), ...args.split(' ')];

const entry = (ifindex: number, domid: number, bytes: number, pending: number) => ({
  ifindex, domid, handle: 0, bytes, packets: 1, 'latency-sum-ns': 0, 'latency-max-ns': 0,
  'throttle-events': 0, 'throttled-ns': 0, 'pending-bytes': pending, 'pending-packets': 1, hist: [0, 0, 0],
});

const vif = (domid: number, pending: number | null, tput: number | null): VifStatus => ({
  vif: `vif${domid}.0`, name: null, domid, handle: 0, ifindex: domid, uplink: 'eth0', priority: 'high', weight: 100, limitBytes: 3028, limitPackets: 64,
  kernelLimitBytes: 3028, why: [], pendingBytes: pending, pendingPackets: null, throughputBitsPerSec: tput, throttledFraction: null, latencyP50Ns: null, latencyP99Ns: null,
});

t.test('frames: sorted highest first, stable ties, cut to the terminal', async (t) => {
  const vifs = [vif(5, 100, 9e6), vif(6, 900, 1e6), vif(7, null, null), vif(4, 100, 0)];
  t.same(sortVifs(vifs, 'pending').map((v) => v.domid), [6, 4, 5, 7]);
  t.same(sortVifs(vifs, 'throughput').map((v) => v.domid), [5, 6, 4, 7]);
  const view: StatusView = { startedAt: 'x', reportAt: null, intervalMs: null, reportStale: false, lastPassAt: null, uplinks: [], vifs, findings: [] };
  const f = renderFrame(view, 'pending', 80, 5, new Date('2026-01-01T10:00:00Z'));
  t.equal(f.length, 5, 'no more lines than the terminal has');
  t.ok(f.every((l) => l.length <= 80));
  t.match(f[0], /^vifq top 10:00:00Z  by pending  p:pending/);
});

const tmuxOk = (() => { try { execFileSync('tmux', ['-V']); return true; } catch { return false; } })();

t.test('in tmux: the table updates, t re-sorts, q restores the terminal', { timeout: 90_000, skip: tmuxOk ? false : 'tmux is not installed (make deps)' }, async (t) => {
  const { k, path } = await servingVifqd(t, base);
  const sock = `vifq-top-${process.pid}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
  t.teardown(() => { try { tmux('kill-server'); } catch { /* already gone */ } });
  const cmd = `${cli(`top --socket ${path} --interval 300`).join(' ')}; echo "EXITED $?"; sleep 60`;
  tmux('new-session', '-d', '-s', 'top', '-x', '80', '-y', '24', cmd);
  const pane = (): string => tmux('capture-pane', '-p', '-t', 'top');
  /** Polls the pane every 200 ms (tmux is a process per call); the pane is in the error. */
  const until = async (what: string, re: RegExp, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      last = pane();
      if (re.test(last)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}; the pane:\n${last}`);
  };
  const flag = (name: string): string => tmux('display-message', '-p', '-t', 'top', `#{${name}}`).trim();
  await until('the first frame', /vif5\.0[^]*vif6\.0/, 20_000);
  t.equal(flag('alternate_on'), '1', 'on the alternate screen');
  t.equal(flag('cursor_flag'), '0', 'cursor hidden');
  t.match(pane(), /by pending/);
  t.ok(pane().split('\n').every((l) => l.length <= 80), 'fits the 80-column pane');

  // a release report: vif6.0 now has bytes pending and is sending
  let bytes = 0;
  const feed = setInterval(() => { bytes += 125_000; k.report(1000, [entry(10, 5, bytes / 10, 100), entry(11, 6, bytes, 2900)]); }, 200);
  t.teardown(() => clearInterval(feed));
  await until('the table updates', /vif6\.0.*2\.83K/, 20_000);
  const rows = pane().split('\n').filter((l) => /vif[56]\.0/.test(l));
  t.match(rows[0], /vif6\.0/, 'sorted by pending: vif6.0 first');
  t.comment(pane());

  tmux('send-keys', '-t', 'top', 't');
  await until('sort by throughput', /by throughput/, 10_000);
  tmux('send-keys', '-t', 'top', 'q');
  await until('the command exits', /EXITED \d+/, 10_000);
  t.match(pane(), /EXITED 0/, 'exit status 0');
  t.equal(flag('alternate_on'), '0', 'back on the normal screen');
  t.equal(flag('cursor_flag'), '1', 'cursor shown again');
  t.notMatch(pane(), /vif5\.0/, 'the live table is gone with the alternate screen');
  clearInterval(feed);
});

t.test('--once and --json without a terminal: one frame, one JSON object per line', async (t) => {
  const { path } = await servingVifqd(t, base);
  // async: the server answering is in this process
  const run = async (args: string): Promise<string> => (await promisify(execFile)('env', cli(args).slice(1), { encoding: 'utf8' })).stdout;
  const once = await run(`top --once --socket ${path}`);
  t.match(once, /^vifq top .*by pending/);
  t.match(once, /vif5\.0/);
  const json = await run(`top --once --json --socket ${path}`);
  const lines = json.trim().split('\n');
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0] ?? ''), { vifs: [{ vif: 'vif5.0' }, { vif: 'vif6.0' }] });
});
