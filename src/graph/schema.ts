import { assertValidSchema, lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './types/server.ts';
import './types/users.ts';
import './types/viewer.ts';
import './types/api-tokens.ts';
import './types/settings.ts';
import './types/test-upload.ts';
import './types/api-stats.ts';
import './types/mail.ts';
import './types/notifications.ts';

/** What the schema's `File` scalar accepts: the v1 facade hands uploads to it in this shape. */
export type { UploadedFile } from './builder.ts';

let schema: GraphQLSchema | undefined;

/** Built and validated once per process; every gateway in it shares the same immutable schema. */
export function buildSchema(): GraphQLSchema {
  if (!schema) {
    schema = builder.toSchema({ sortSchema: true });
    assertValidSchema(schema);
  }
  return schema;
}

/** The published contract, as `npm run schema:print` writes it to `schema/schema.graphql`. */
export function schemaSdl(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}
