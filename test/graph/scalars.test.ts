import { GraphQLError, parseValue, type GraphQLScalarType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/graph/schema.ts';

const scalar = (name: string) => buildSchema().getType(name) as GraphQLScalarType;

describe('DateTime', () => {
  it('serialises a Date as an ISO-8601 UTC string with milliseconds', () => {
    expect(scalar('DateTime').serialize(new Date(Date.UTC(2026, 10, 24, 5, 13, 34, 123)))).toBe('2026-11-24T05:13:34.123Z');
    // Whole seconds keep their milliseconds, so every timestamp has the same shape.
    expect(scalar('DateTime').serialize(new Date(Date.UTC(2026, 0, 1)))).toBe('2026-01-01T00:00:00.000Z');
    expect(scalar('DateTime').serialize('2026-11-24T06:13:34.123+01:00')).toBe('2026-11-24T05:13:34.123Z');
  });

  it('parses ISO-8601 strings and refuses anything else with a GraphQL error', () => {
    expect(scalar('DateTime').parseValue('2026-11-24T05:13:34.123Z')).toEqual(new Date(Date.UTC(2026, 10, 24, 5, 13, 34, 123)));
    expect(scalar('DateTime').parseLiteral(parseValue('"2026-11-24T05:13:34Z"'))).toEqual(new Date(Date.UTC(2026, 10, 24, 5, 13, 34)));
    for (const value of ['yesterday', '', 42, null, {}]) {
      expect(() => scalar('DateTime').parseValue(value), String(value)).toThrow(GraphQLError);
    }
    expect(() => scalar('DateTime').parseLiteral(parseValue('1700000000'))).toThrow(GraphQLError);
  });
});

describe('JSON', () => {
  it('passes values through and reads literals as the JSON they spell', () => {
    const json = scalar('JSON');
    expect(json.serialize({ a: [1, 'b', null] })).toEqual({ a: [1, 'b', null] });
    expect(json.parseValue([1, { b: true }])).toEqual([1, { b: true }]);
    expect(json.parseLiteral(parseValue('{ a: 1, b: [2.5, "c", true, null], d: { e: $v } }'), { v: 'var' })).toEqual({
      a: 1,
      b: [2.5, 'c', true, null],
      d: { e: 'var' },
    });
  });
});
