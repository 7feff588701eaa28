import type { GraphQLSchema } from 'graphql';
import { MethodTable } from './method-table.ts';
import { V1_METHODS } from './methods/index.ts';

/** The published v1 catalogue (`schema/v1-methods.json`): id, title, permission and parameter schemas. */
export function v1Catalogue(schema: GraphQLSchema): string {
  const methods = new MethodTable(schema, V1_METHODS).catalogue();
  return `${JSON.stringify({ version: 1, methods }, null, 2)}\n`;
}
