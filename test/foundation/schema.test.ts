import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemaSdl } from '../../src/graph/schema.ts';
import { introspectionOutput } from '../../scripts/introspection.ts';

describe('published GraphQL schema', () => {
  it('schema/schema.graphql matches the schema the code builds', async () => {
    const published = await readFile(path.resolve('schema/schema.graphql'), 'utf8');
    expect(published, 'schema/schema.graphql is stale: run `npm run schema:print` and commit the result').toBe(schemaSdl());
  });

  // With the SDL current (above), this keeps the document types current with the code too.
  it('the introspection file of the typed documents matches schema/schema.graphql', async () => {
    const { file, content } = await introspectionOutput();
    const committed = await readFile(path.resolve(file), 'utf8');
    expect(committed, `${file} is stale: run \`npm run schema:print\` and commit the result`).toBe(content);
  });
});
