import t from 'tap';
import fc from 'fast-check';
import {
  LIMIT_MAX, decodeText, formatBytes, formatDurationUs, formatRate, parseBytes, parseDurationUs, parseInteger, parseKeyword,
  parseMilliseconds, parseRateBitsPerSec, type Parsed,
} from '../../src/sla/index.js';

const value = <T>(r: Parsed<T>): T | string => (r.ok ? r.value : `!${r.problem.code}`);

t.test('integers: plain decimal only, in range, no overflow', async (t) => {
  t.equal(value(parseInteger('1', 1, 1000)), 1);
  t.equal(value(parseInteger('1000', 1, 1000)), 1000);
  t.equal(value(parseInteger('0', 1, 1000)), '!out-of-range');
  t.equal(value(parseInteger('1001', 1, 1000)), '!out-of-range');
  for (const bad of ['-1', '+5', '1.5', '1e3', '0x10', '10k', 'ten', '', ' 5']) t.equal(value(parseInteger(bad, 0, 1000)), '!bad-syntax', bad);
  t.equal(value(parseInteger('007', 0, 1000)), '!bad-syntax', 'leading zeros are refused (octal?)');
  t.equal(value(parseInteger('99999999999999999999', 0, LIMIT_MAX)), '!overflow', 'above 2^53 is overflow, not a rounded number');
  t.equal(value(parseInteger('9'.repeat(400), 0, LIMIT_MAX)), '!overflow');
});

t.test('byte sizes: binary suffixes, limit at 2^31-1 (kernel ERANGE above)', async (t) => {
  t.equal(value(parseBytes('3028', 1, LIMIT_MAX)), 3028);
  t.equal(value(parseBytes('64k', 1, LIMIT_MAX)), 65536);
  t.equal(value(parseBytes('64KiB', 1, LIMIT_MAX)), 65536);
  t.equal(value(parseBytes('1m', 1, LIMIT_MAX)), 1 << 20);
  t.equal(value(parseBytes('1g', 1, LIMIT_MAX)), 1 << 30);
  t.equal(value(parseBytes('2147483647', 1, LIMIT_MAX)), LIMIT_MAX);
  t.equal(value(parseBytes('2147483648', 1, LIMIT_MAX)), '!out-of-range');
  t.equal(value(parseBytes('2g', 1, LIMIT_MAX)), '!out-of-range', '2 GiB is one above the kernel maximum');
  t.equal(value(parseBytes('64kb/s', 1, LIMIT_MAX)), '!bad-syntax');
  t.equal(value(parseBytes('64x', 1, LIMIT_MAX)), '!bad-unit');
  t.equal(value(parseBytes('0', 1, LIMIT_MAX)), '!out-of-range');
  const r = parseBytes('3g', 1, LIMIT_MAX);
  t.ok(!r.ok && /at most 2147483647 bytes/.test(r.problem.hint), 'the hint names the maximum');
});

t.test('durations: us/ms/s, bare numbers per field, whole ms where the kernel wants ms', async (t) => {
  t.equal(value(parseDurationUs('2ms', 0, 1e7, null)), 2000);
  t.equal(value(parseDurationUs('1s', 0, 1e7, null)), 1e6);
  t.equal(value(parseDurationUs('500us', 0, 1e7, null)), 500);
  t.equal(value(parseDurationUs('5', 0, 1e7, null)), '!bad-unit', 'a budget needs its unit');
  t.equal(value(parseDurationUs('5m', 0, 1e7, null)), '!bad-unit', 'm is not minutes here');
  t.equal(value(parseMilliseconds('100', 1, 30000)), 100);
  t.equal(value(parseMilliseconds('2ms', 1, 30000)), 2);
  t.equal(value(parseMilliseconds('30s', 1, 30000)), 30000);
  t.equal(value(parseMilliseconds('31s', 1, 30000)), '!out-of-range');
  t.equal(value(parseMilliseconds('0', 1, 30000)), '!out-of-range');
  t.equal(value(parseMilliseconds('1500us', 1, 30000)), '!bad-unit');
  const r = parseMilliseconds('40000', 1, 30000);
  t.ok(!r.ok && r.problem.hint.includes('30s'), 'range shown in readable units');
});

t.test('rates: SI bit units, no bare numbers, no bytes-per-second', async (t) => {
  t.equal(value(parseRateBitsPerSec('4mbit', 1000, 1e13)), 4e6);
  t.equal(value(parseRateBitsPerSec('100mbit', 1000, 1e13)), 1e8);
  t.equal(value(parseRateBitsPerSec('1gbit', 1000, 1e13)), 1e9);
  t.equal(value(parseRateBitsPerSec('2.5gbit', 1000, 1e13)), 2.5e9);
  t.equal(value(parseRateBitsPerSec('1Gbit', 1000, 1e13)), 1e9);
  t.equal(value(parseRateBitsPerSec('100', 1000, 1e13)), '!bad-unit');
  const bps = parseRateBitsPerSec('100mbps', 1000, 1e13);
  t.ok(!bps.ok && bps.problem.code === 'bad-unit' && bps.problem.hint.includes('100mbit'), 'tc bps is bytes/s: refused with the fix');
  t.equal(value(parseRateBitsPerSec('1.5bit', 1, 1e13)), '!bad-syntax');
  t.equal(value(parseRateBitsPerSec('100tbit', 1000, 1e13)), '!out-of-range');
  t.equal(value(parseRateBitsPerSec('1' + '0'.repeat(40) + 'bit', 1000, 1e13)), '!overflow');
});

t.test('text: empty, non-UTF-8 and whitespace are findings', async (t) => {
  t.equal(value(decodeText(Buffer.alloc(0))), '!empty-value');
  t.equal(value(decodeText(Buffer.from([0x31, 0xff, 0x32]))), '!not-utf8');
  t.equal(value(decodeText(Buffer.from('100\n'))), '!bad-syntax');
  t.equal(value(decodeText(Buffer.from('100'))), '100');
  t.equal(value(parseKeyword('high', ['high', 'low'] as const)), 'high');
  t.equal(value(parseKeyword('HIGH', ['high', 'low'] as const)), '!bad-syntax');
});

t.test('formatters round-trip through the parsers', async (t) => {
  t.equal(formatBytes(65536), '64k');
  t.equal(formatBytes(3028), '3028');
  t.equal(formatRate(4e6), '4mbit');
  t.equal(formatRate(2.5e9), '2500mbit');
  t.equal(formatDurationUs(2000), '2ms');
  fc.assert(fc.property(fc.integer({ min: 1, max: LIMIT_MAX }), (n) => value(parseBytes(formatBytes(n), 1, LIMIT_MAX)) === n));
  fc.assert(fc.property(fc.integer({ min: 1000, max: 1e13 }), (n) => value(parseRateBitsPerSec(formatRate(n), 1000, 1e13)) === n));
  fc.assert(fc.property(fc.integer({ min: 10, max: 1e7 }), (n) => value(parseDurationUs(formatDurationUs(n), 10, 1e7, null)) === n));
});

t.test('no input string crashes a parser', async (t) => {
  fc.assert(fc.property(fc.string(), (s) => {
    for (const r of [parseInteger(s, 0, 10), parseBytes(s, 1, LIMIT_MAX), parseDurationUs(s, 0, 1e7, 'ms'), parseRateBitsPerSec(s, 1000, 1e13)]) {
      if (!r.ok && (r.problem.message === '' || r.problem.hint === '')) return false;
    }
    return true;
  }));
  t.pass('fuzzed');
});
