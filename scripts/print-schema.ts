import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { schemaSdl } from '../src/graph/schema.ts';

const target = path.resolve('schema/schema.graphql');
writeFileSync(target, schemaSdl());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
