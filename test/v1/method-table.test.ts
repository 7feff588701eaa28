import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/graph/schema.ts';
import { graphql } from '../../src/rpc-facade/graphql.ts';
import type { V1Method } from '../../src/rpc-facade/method.ts';
import { MethodTable } from '../../src/rpc-facade/method-table.ts';
import { ok } from '../../src/rpc-facade/result.ts';

const schema = buildSchema();

function method(document: V1Method['document'], id = '/v1/test/probe'): V1Method {
  return { id, permission: '*', title: 'Probe', params: [], document, plan: () => ({ variables: {} }), result: () => ok() };
}

describe('v1 method table start-up checks', () => {
  it('refuses a document that does not parse, naming the method', () => {
    expect(() => new MethodTable(schema, [method('query { serverTime')])).toThrow(/\/v1\/test\/probe: its GraphQL document does not parse/);
  });

  it('refuses a document that does not validate against the schema', () => {
    expect(() => new MethodTable(schema, [method('query { noSuchField }')])).toThrow(/\/v1\/test\/probe: its GraphQL document does not validate: .*noSuchField/);
  });

  it('refuses a document beyond the query limits', () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: serverTime`).join(' ');
    expect(() => new MethodTable(schema, [method(`query { ${aliases} }`)])).toThrow(/does not validate/);
  });

  it("refuses two operations of the same name among a method's documents", () => {
    const documents = [graphql('query Probe { serverTime }'), graphql('query Probe { viewer { permissions } }')];
    expect(() => new MethodTable(schema, [method(documents)])).toThrow(/operation Probe is defined twice/);
  });

  it('refuses a method id defined twice', () => {
    expect(() => new MethodTable(schema, [method('{ serverTime }'), method('{ serverTime }')])).toThrow(/v1 method \/v1\/test\/probe is defined twice/);
  });

  it('validates documents that arrive parsed as strictly as text', () => {
    expect(() => new MethodTable(schema, [method(parse('query { noSuchField }'))])).toThrow(/does not validate: .*noSuchField/);
  });
});
