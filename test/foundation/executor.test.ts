import { describe, expect, it } from 'vitest';
import { GUEST } from '../../src/domain/principal.ts';
import { graphContext } from '../../src/graph/context.ts';
import { GraphqlExecutor, type OperationRecord } from '../../src/graph/executor.ts';
import { buildSchema } from '../../src/graph/schema.ts';
import { createLogger } from '../../src/logger.ts';

const context = () =>
  graphContext({
    principal: GUEST,
    domain: undefined as never,
    requestId: 'test',
    log: () => createLogger('silent').log,
    client: { address: '127.0.0.1', userAgent: null },
  });

describe('GraphqlExecutor', () => {
  it('parses and validates a document once per text, and keeps the outcome of a bad one too', () => {
    const executor = new GraphqlExecutor({ schema: buildSchema() });
    const first = executor.prepare('{ __typename }');
    expect(first.errors).toEqual([]);
    expect(executor.prepare('{ __typename }')).toBe(first);

    const invalid = executor.prepare('{ noSuchField }');
    expect(invalid.parseFailed).toBe(false);
    expect(invalid.errors.map((error) => error.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', status: 400 }]);
    expect(executor.prepare('{ noSuchField }')).toBe(invalid);

    const unparsable = executor.prepare('{ serverTime');
    expect(unparsable.parseFailed).toBe(true);
    expect(unparsable.errors.map((error) => error.extensions)).toEqual([{ code: 'GRAPHQL_PARSE_FAILED', status: 400 }]);
  });

  it('keeps a bounded number of documents, the recently used ones', () => {
    const executor = new GraphqlExecutor({ schema: buildSchema(), documentCacheSize: 4 });
    const kept = executor.prepare('{ __typename }');
    const others = Array.from({ length: 12 }, (_, i) => `{ a${i}: __typename }`);
    for (const query of others) {
      executor.prepare(query);
      expect(executor.prepare('{ __typename }')).toBe(kept);
    }
    const firstOther = executor.prepare(others[0]!);
    expect(executor.prepare(others[0]!)).toBe(firstOther);
    for (const query of others.slice(1)) executor.prepare(query);
    // Twelve other documents since it was last used, with room for four: it was parsed again.
    expect(executor.prepare(others[0]!)).not.toBe(firstOther);
  });

  it('runs an operation on graphql-js first and compiles it with graphql-jit from its second run', async () => {
    const executor = new GraphqlExecutor({ schema: buildSchema() });
    const prepared = executor.prepare('query A { __typename } query B { t: __typename }');
    expect(executor.operation(prepared, undefined)).toBeUndefined();
    expect(executor.operation(prepared, 'C')).toBeUndefined();
    const operation = executor.operation(prepared, 'B')!;
    expect(operation.kind).toBe('query');
    expect(operation.compiled).toBe(false);
    expect(await executor.execute(operation, context(), undefined, 'graphql-http')).toEqual({ data: { t: 'Query' } });
    expect(operation.compiled).toBe(false);
    expect(await executor.execute(operation, context(), undefined, 'graphql-http')).toEqual({ data: { t: 'Query' } });
    expect(operation.compiled).toBe(true);
    expect(await executor.execute(operation, context(), undefined, 'graphql-http')).toEqual({ data: { t: 'Query' } });
    expect(executor.operation(prepared, 'B')).toBe(operation);
  });

  it('runs subscription events on graphql-js first and on graphql-jit from the operation\'s second start, ending with the source', async () => {
    const executor = new GraphqlExecutor({ schema: buildSchema() });
    const operation = executor.operation(executor.prepare('subscription ($n: Int) { ticks(intervalMs: 10, count: $n) { sequence __typename } }'), undefined)!;
    const events = async () => {
      const stream = await executor.subscribe(operation, context(), { n: 3 }, 'graphql-ws');
      if (!(Symbol.asyncIterator in stream)) throw new Error(`not a stream: ${JSON.stringify(stream)}`);
      const seen = [];
      for await (const event of stream) seen.push(event);
      return seen;
    };
    const expected = [1, 2, 3].map((sequence) => ({ data: { ticks: { sequence, __typename: 'Tick' } } }));
    expect(await events()).toEqual(expected);
    expect(operation.compiled).toBe(false);
    expect(await events()).toEqual(expected);
    expect(operation.compiled).toBe(true);
    expect(await events()).toEqual(expected);
    // Stopping early reaches the source at once.
    const endless = await executor.subscribe(operation, context(), { n: null }, 'graphql-ws');
    if (!(Symbol.asyncIterator in endless)) throw new Error('not a stream');
    expect((await endless.next()).value).toEqual(expected[0]);
    await endless.return!();
    expect(await endless.next()).toEqual({ done: true, value: undefined });
  });

  it('words variable errors the same way before and after compiling', async () => {
    const executor = new GraphqlExecutor({ schema: buildSchema() });
    const operation = executor.operation(executor.prepare('query($n: Int!) { suggestUsers(search: "a", first: $n) { id } }'), undefined)!;
    const answers = [];
    for (let run = 0; run < 3; run++) answers.push(JSON.stringify(await executor.execute(operation, context(), { n: 'x' }, 'graphql-http')));
    expect(operation.compiled).toBe(true);
    expect(new Set(answers).size).toBe(1);
    expect(JSON.parse(answers[0]!)).toEqual({
      errors: [
        {
          message: 'Variable "$n" got invalid value "x"; Int cannot represent non-integer value: "x"',
          locations: [{ line: 1, column: 7 }],
          extensions: { code: 'BAD_REQUEST', status: 400 },
        },
      ],
    });
  });

  it('applies the error policy and reports every finished operation to its record hook', async () => {
    const records: OperationRecord[] = [];
    const executor = new GraphqlExecutor({ schema: buildSchema(), record: (record) => records.push(record) });
    const operation = executor.operation(executor.prepare('query Refused { users { totalCount } }'), undefined)!;
    const result = await executor.execute(operation, context(), undefined, 'graphql-ws');
    expect(JSON.parse(JSON.stringify(result))).toEqual({
      errors: [{ message: 'Authentication is required', locations: [{ line: 1, column: 17 }], path: ['users'], extensions: { code: 'UNAUTHENTICATED', status: 401 } }],
      data: null,
    });
    const fine = executor.operation(executor.prepare('{ __typename }'), undefined)!;
    await executor.execute(fine, context(), undefined, 'v1', '/v1/test/probe');
    expect(records.map(({ durationMs, source, name, kind, ok, principal, operationName, errors }) => ({ source, name, kind, ok, principal, operationName, errors: errors.map((e) => e.extensions.code), timed: durationMs >= 0 }))).toEqual([
      { source: 'graphql-ws', name: 'Refused', kind: 'query', ok: false, principal: GUEST, operationName: 'Refused', errors: ['UNAUTHENTICATED'], timed: true },
      { source: 'v1', name: '/v1/test/probe', kind: 'query', ok: true, principal: GUEST, operationName: undefined, errors: [], timed: true },
    ]);
    // The document and context come along, so the call log can record each root field.
    expect(records[0]!.document).toBe(operation.document);
    expect(records[0]!.context.principal).toBe(GUEST);
  });
});
