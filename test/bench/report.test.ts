import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { cpuPerRequest, markdownTable, median, percentile, ratioOf, targetRows, verdict, type RunSample } from '../../bench/report.ts';

const run = (rps: number): RunSample => ({ rps, p50: 1, p99: 2, serverCpu: 90, serverRss: 2 ** 20, clientCpu: 50 });

describe('median and percentile', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('uses the nearest rank of sorted values', () => {
    const values = Array.from({ length: 100 }, (_v, i) => i + 1);
    assert.equal(percentile(values, 0.5), 50);
    assert.equal(percentile(values, 0.99), 99);
    assert.equal(percentile([7], 0.99), 7);
    assert.equal(percentile([], 0.5), 0);
  });
});

describe('markdownTable', () => {
  it('pads every column to one width and marks right-aligned ones in the rule', () => {
    const table = markdownTable(['name', 'req/s'], [['raw', '50000'], ['gateway', '9']], ['l', 'r']);
    assert.equal(table, ['| name    | req/s |', '| ------- | ----: |', '| raw     | 50000 |', '| gateway |     9 |'].join('\n'));
  });
});

describe('ratioOf', () => {
  it('is the median of the per-round ratios, so a slow round of both cancels out', () => {
    const samples = new Map([
      ['gw', [run(50), run(25), run(60)]],
      ['base', [run(100), run(50), run(100)]],
    ]);
    // Per round: 0.5, 0.5, 0.6. The ratio of the medians would be 50 / 100 = 0.5 too, but of the
    // means (45 / 83.3) it would not.
    assert.equal(ratioOf(samples, 'gw', 'base'), 0.5);
  });

  it('is NaN when either side did not run', () => {
    assert.ok(Number.isNaN(ratioOf(new Map([['gw', [run(1)]]]), 'gw', 'base')));
  });
});

describe('cpuPerRequest', () => {
  it('turns % of a core and req/s into CPU µs per request', () => {
    // Half a core for 50,000 requests a second: 10 µs each.
    assert.equal(cpuPerRequest({ ...run(50_000), serverCpu: 50 }), 10);
  });
});

describe('targets', () => {
  it('judges lower and upper bounds, and says when nothing was measured', () => {
    assert.equal(verdict(0.6, 0.6, true), 'yes');
    assert.equal(verdict(0.59, 0.6, true), 'no');
    assert.equal(verdict(31, 30, false), 'no');
    assert.equal(verdict(Number.NaN, 30, false), 'not measured');
  });

  it('reports the stretch goal when it is met, and only for scenarios that ran', () => {
    const comparisons = [
      { scenario: 'gw', baseline: 'base', min: 1.0, stretch: 1.1 },
      { scenario: 'other', baseline: 'base', min: 0.5 },
      { scenario: 'gw', baseline: 'base' },
    ];
    const rows = targetRows(new Map([['gw', [run(120)]], ['base', [run(100)]]]), [], comparisons);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.met, 'yes (stretch too)');
    assert.equal(rows[0]!.measured, '1.20×');
    const short = targetRows(new Map([['gw', [run(105)]], ['base', [run(100)]]]), [], comparisons);
    assert.equal(short[0]!.met, 'yes');
  });

  it('holds idle WebSockets to their RSS per connection and sign-in to its rate', () => {
    const idle = [{ protocol: 'v1', connections: 10_000, rssBefore: 100 * 2 ** 20, rssAfter: 100 * 2 ** 20 + 10_000 * 31 * 1024, openSeconds: 1, dropped: 0 }];
    const rows = targetRows(new Map([['signin', [run(59), run(61), run(62)]]]), idle, []);
    assert.deepEqual(
      rows.map((row) => [row.measured, row.met]),
      [
        ['31.0 KiB', 'no'],
        ['61.0', 'yes'],
      ],
    );
  });
});
