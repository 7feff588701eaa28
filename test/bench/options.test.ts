import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { select } from '../../bench/catalogue.ts';
import { parseOptions, UsageError } from '../../bench/options.ts';

describe('parseOptions', () => {
  it('sizes a quick run smaller than a full one', () => {
    const full = parseOptions([], {});
    const quick = parseOptions(['--quick'], {});
    assert.equal(full.quick, false);
    assert.equal(quick.quick, true);
    assert.ok(quick.rounds < full.rounds && quick.seconds < full.seconds && quick.idleConnections < full.idleConnections);
    assert.equal(full.idleConnections, 10_000);
  });

  it('takes a variable over the default and an argument over the variable', () => {
    assert.equal(parseOptions([], { BENCH_ROUNDS: '5' }).rounds, 5);
    assert.equal(parseOptions(['--rounds=2'], { BENCH_ROUNDS: '5' }).rounds, 2);
    assert.equal(parseOptions(['--quick', '--seconds=0.3'], {}).seconds, 0.3);
    assert.equal(parseOptions(['--ws-in-flight=8'], {}).wsInFlight, 8);
  });

  it('refuses unknown arguments and bad numbers with a usage error', () => {
    assert.throws(() => parseOptions(['--fast'], {}), UsageError);
    assert.throws(() => parseOptions(['--rounds=1.5'], {}), /--rounds must be an integer/);
    assert.throws(() => parseOptions(['--rounds=0'], {}), /at least 1/);
    assert.throws(() => parseOptions([], { BENCH_SECONDS: 'soon' }), /BENCH_SECONDS must be a number/);
    assert.throws(() => parseOptions(['--only='], {}), UsageError);
  });

  it('splits --only and the gateway node flags', () => {
    const options = parseOptions(['--only=v1, idle'], { BENCH_GATEWAY_NODE_OPTIONS: ' --trace-gc  --cpu-prof ' });
    assert.deepEqual(options.only, ['v1', 'idle']);
    assert.deepEqual(options.gatewayNodeArgs, ['--trace-gc', '--cpu-prof']);
  });
});

describe('select', () => {
  it('runs everything without names', () => {
    const all = select(null);
    assert.ok(all.scenarios.length > 10);
    assert.deepEqual([...all.extras].sort(), ['idle', 'mail', 'notify-fanout', 'startup']);
  });

  it('adds the baselines a selected scenario is compared with', () => {
    const ids = select(['graphql-typename']).scenarios.map((scenario) => scenario.id);
    assert.deepEqual(ids, ['mercurius-typename', 'graphql-typename']);
  });

  it('selects groups, keeps the catalogue order and the extras named', () => {
    const v1 = select(['v1', 'idle']);
    assert.deepEqual(
      v1.scenarios.map((scenario) => scenario.id),
      ['raw-http', 'v1-test-http', 'v1-profile-http', 'v1-users-http', 'raw-ws', 'v1-test-ws', 'v1-profile-ws'],
    );
    assert.deepEqual([...v1.extras], ['idle']);
  });

  it('names the unknown ones', () => {
    assert.throws(() => select(['v2', 'raw-http']), /unknown scenario or group: v2/);
  });
});
