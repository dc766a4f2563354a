/** SystemdNotifier's environment rules and no-op mode, with a fake sender (no socket). */
import t from 'tap';
import { SdNotifyConfigError, SystemdNotifier } from '../../src/service/sd-notify.js';

function fake(): { sent: Array<[string, string]>; sender: (p: string, m: string) => number } {
  const sent: Array<[string, string]> = [];
  return { sent, sender: (p, m) => { sent.push([p, m]); return m.length; } };
}

t.test('no NOTIFY_SOCKET: every call is a no-op returning false, nothing is sent', async (t) => {
  const f = fake();
  for (const env of [{}, { NOTIFY_SOCKET: '' }, { WATCHDOG_USEC: '1000000' }]) {
    const n = SystemdNotifier.fromEnv(env, { sender: f.sender });
    t.equal(n.enabled, false);
    t.equal(n.ready('x'), false);
    t.equal(n.status('x'), false);
    t.equal(n.stopping(), false);
    t.equal(n.watchdog(), false);
    t.equal(n.startWatchdog(), false);
    n.stop();
    n.close();
  }
  t.same(f.sent, []);
});

t.test('WATCHDOG_PID decides whose watchdog it is', async (t) => {
  const f = fake();
  const mine = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@a', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, { pid: 42, sender: f.sender });
  t.equal(mine.watchdogUsec, 30_000_000);
  const unset = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@a', WATCHDOG_USEC: '30000000' }, { pid: 42, sender: f.sender });
  t.equal(unset.watchdogUsec, 30_000_000, 'no WATCHDOG_PID: ours');
  const other = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@a', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, { pid: 42, sender: f.sender });
  t.equal(other.watchdogUsec, 0, 'another pid: no watchdog for us');
  t.equal(other.startWatchdog(), false);
});

t.test('a malformed WATCHDOG_USEC or WATCHDOG_PID is a typed configuration error', async (t) => {
  for (const v of ['abc', '-5', '0', '1e6', '99999999999999999999']) {
    t.throws(() => SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@a', WATCHDOG_USEC: v }), SdNotifyConfigError, `WATCHDOG_USEC=${v}`);
  }
  t.throws(() => SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@a', WATCHDOG_USEC: '5', WATCHDOG_PID: 'x' }), SdNotifyConfigError);
});

t.test('the watchdog pings at half the period from an unref\'d timer', async (t) => {
  const f = fake();
  const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '40000' }, { sender: f.sender });
  t.equal(n.startWatchdog(), true);
  await new Promise((r) => setTimeout(r, 110));
  n.stop();
  const pings = f.sent.filter(([p, m]) => p === '/run/systemd/notify' && m === 'WATCHDOG=1').length;
  t.ok(pings >= 3 && pings <= 7, `one at start and one per 20 ms: ${pings} in 110 ms`);
  const count = f.sent.length;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(f.sent.length, count, 'stop() stops the pings');
  t.equal(n.extendTimeout(5_000_000.4), true);
  t.same(f.sent.at(-1), ['/run/systemd/notify', 'EXTEND_TIMEOUT_USEC=5000000']);
});
