import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/graph/schema.ts';
import type { V1Method } from '../../src/rpc-facade/method.ts';
import { MethodTable } from '../../src/rpc-facade/method-table.ts';
import { ok } from '../../src/rpc-facade/result.ts';

function method(document: string): V1Method {
  return { id: '/v1/test/limits', permission: '*', title: 'Limits', params: [], document, plan: () => ({ variables: {} }), result: () => ok() };
}

const nested = (ofTypes: number) => `query Deep { __type(name: "Query") { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } }`;

describe('v1 method documents are held to the query limits at start-up', () => {
  it('accepts a document at the limits', () => {
    expect(new MethodTable(buildSchema(), [method(nested(8))]).get('/v1/test/limits')).toBeDefined();
  });

  it.each([
    ['nested deeper than 12 levels', nested(9), /deeper than 12 levels/],
    ['with more than 30 aliases', `query Many { ${Array.from({ length: 31 }, (_, i) => `a${i}: serverTime`).join(' ')} }`, /more than 30 aliases/],
    ['of more than 5000 tokens', `query Long(${Array.from({ length: 1500 }, (_, i) => `$v${i}: Int`).join(' ')}) { serverTime }`, /5000 tokens/],
  ])('refuses a document %s', (_name, document, message) => {
    expect(() => new MethodTable(buildSchema(), [method(document)])).toThrow(message);
  });
});
