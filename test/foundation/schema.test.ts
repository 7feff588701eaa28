import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemaSdl } from '../../src/graph/schema.ts';

describe('published GraphQL schema', () => {
  it('schema/schema.graphql matches the schema the code builds', async () => {
    const published = await readFile(path.resolve('schema/schema.graphql'), 'utf8');
    expect(published, 'schema/schema.graphql is stale: run `npm run schema:print` and commit the result').toBe(schemaSdl());
  });
});
