import t from 'tap';
import { toReleaseDeltas, type ReleaseBaseline } from '../../src/vifq/release.js';

t.test('delta counters (today\'s kernel) pass through; gauges are kept; missing counters are 0', async (t) => {
  const base: ReleaseBaseline = new Map();
  const out = toReleaseDeltas(1000, [{ ifindex: 7, domid: 3, handle: 1, bytes: 10, packets: 1, 'pending-bytes': 99, hist: [1] }, { domid: 9 }], base, 'delta');
  t.same(out, [{ ifindex: 7, domid: 3, handle: 1, 'interval-ms': 1000, 'pending-bytes': 99, 'pending-packets': 0, 'latency-max-ns': 0,
    bytes: 10, packets: 1, 'latency-sum-ns': 0, 'throttle-events': 0, 'throttled-ns': 0, hist: [1] }], 'an entry without ifindex is dropped');
  t.equal(base.size, 0, 'no baseline needed');
  t.equal(toReleaseDeltas(1000, [{ ifindex: 7, bytes: 10 }], base, 'delta')[0]?.bytes, 10, 'the same values again are new deltas');
});

t.test('cumulative counters become deltas against the previous report of the same vif', async (t) => {
  const base: ReleaseBaseline = new Map();
  t.same(toReleaseDeltas(1000, [{ ifindex: 7, bytes: 5000, packets: 4, hist: [3, 1] }], base, 'cumulative'), [], 'the first sight only sets the baseline');
  const second = toReleaseDeltas(1000, [{ ifindex: 7, bytes: 6500, packets: 5, 'pending-bytes': 300, 'latency-max-ns': 70, hist: [3, 2, 1] }], base, 'cumulative');
  t.match(second, [{ ifindex: 7, bytes: 1500, packets: 1, 'pending-bytes': 300, 'latency-max-ns': 70, hist: [0, 1, 1] }]);
  // a vif missing from a report keeps its baseline
  t.same(toReleaseDeltas(1000, [{ ifindex: 8, bytes: 1 }], base, 'cumulative'), []);
  t.match(toReleaseDeltas(1000, [{ ifindex: 7, bytes: 6600, packets: 5 }], base, 'cumulative'), [{ bytes: 100, packets: 0 }]);
  // a counter that went down: the vif was re-created under the same ifindex, counting from 0
  t.match(toReleaseDeltas(1000, [{ ifindex: 7, bytes: 40, packets: 1 }], base, 'cumulative'), [{ bytes: 40, packets: 1 }]);
  base.clear();
  t.same(toReleaseDeltas(1000, [{ ifindex: 7, bytes: 90 }], base, 'cumulative'), [], 'after a resync (baseline cleared) the next report is a new baseline');
});
