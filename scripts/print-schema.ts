import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, schemaSdl } from '../src/graph/schema.ts';
import { v1Catalogue } from '../src/rpc-facade/catalogue.ts';
import { introspectionOutput } from './introspection.ts';

/** Writes the published contracts: the GraphQL SDL and the v1 method catalogue. */
const contracts: [string, string][] = [
  ['schema/schema.graphql', schemaSdl()],
  ['schema/v1-methods.json', v1Catalogue(buildSchema())],
];
for (const [file, content] of contracts) {
  writeFileSync(path.resolve(file), content);
  console.log(`wrote ${file}`);
}

// The typed documents' introspection is read from the SDL just written.
const { file, content } = await introspectionOutput();
writeFileSync(path.resolve(file), content);
console.log(`wrote ${file}`);
