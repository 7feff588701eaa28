import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

describe.each(MODES)('gateway basics (%s)', (mode) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(mode);
  });
  afterAll(() => gw?.close());

  it('answers /healthz and a GraphQL query', async () => {
    const health = await fetch(`${gw.url}/healthz`);
    expect(health.status).toBe(200);
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ serverTime }' }),
    });
    const body = (await res.json()) as { data: { serverTime: string } };
    expect(Date.parse(body.data.serverTime)).toBeGreaterThan(Date.now() - 60_000);
  });
});
