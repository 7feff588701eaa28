import { initGraphQLTada, type TadaDocumentNode } from 'gql.tada';
import type { introspection } from '../../schema/graphql-env.d.ts';
import type { UploadedFile } from '../graph/schema.ts';

/**
 * `graphql()` for documents against the published schema (`schema/schema.graphql`): each document's
 * result and variables types come from the schema. At runtime it returns the parsed DocumentNode.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: {
    /** Ids travel as decimal strings. */
    ID: string;
    /** ISO-8601 on the wire. */
    DateTime: string;
    JSON: unknown;
    File: UploadedFile;
  };
}>();

/** Every typed document: the variables sit in a parameter position, so `never` admits them all. */
export type AnyTypedDocument = TadaDocumentNode<unknown, never>;

export { readFragment, type FragmentOf, type ResultOf, type TadaDocumentNode, type VariablesOf } from 'gql.tada';
