import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/graph/schema.ts';
import { DEFAULT_QUERY_LIMITS, queryLimitRules } from '../../src/graph/query-limits.ts';

const schema = buildSchema();
/** A cost limit small enough that one page of a handful of fields crosses it. */
const rules = queryLimitRules({ ...DEFAULT_QUERY_LIMITS, maxCost: 100 });

function costRefusal(query: string): string | undefined {
  const errors = validate(schema, parse(query), rules);
  expect(errors.filter((error) => error.extensions.code !== 'QUERY_TOO_COMPLEX')).toEqual([]);
  return errors.find((error) => /cost/.test(error.message))?.message;
}

describe('the cost estimate of an operation', () => {
  it('counts a connection without first or last as its default page of 20, not as 1', () => {
    // 1 (users) + 20 × (edges + node + 2 fields) = 81: within 100.
    expect(costRefusal('{ users { edges { node { id name } } } }')).toBeUndefined();
    // 1 + 20 × (edges + node + 3 fields) = 101.
    expect(costRefusal('{ users { edges { node { id name email } } } }')).toMatch(/more than 100/);
    expect(costRefusal('{ users(first: null) { edges { node { id name email } } } }')).toMatch(/more than 100/);
  });

  it('counts the page size given, and a variable as the page maximum', () => {
    expect(costRefusal('{ users(first: 2) { edges { node { id name email enabled createdAt } } } }')).toBeUndefined();
    expect(costRefusal('query ($n: Int) { users(first: $n) { edges { node { id } } } }')).toMatch(/cost/);
  });

  it('counts a list argument left out at its schema default', () => {
    // suggestUsers(first: Int = 100): 1 + 100 × 1.
    expect(costRefusal('{ suggestUsers { id } }')).toMatch(/cost/);
    expect(costRefusal('{ suggestUsers(first: 5) { id name } }')).toBeUndefined();
  });

  it('follows fragments into the types they name', () => {
    const spread = 'fragment F on User { id name email } { users { edges { node { ...F } } } }';
    expect(costRefusal(spread)).toMatch(/cost/);
    expect(costRefusal('{ users { edges { node { ... on User { id name email } } } } }')).toMatch(/cost/);
  });
});
