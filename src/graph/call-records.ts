import { Kind, type DocumentNode, type FragmentDefinitionNode, type GraphQLError, type SelectionSetNode } from 'graphql';
import type { CallRecorder } from '../domain/call-recorder.ts';
import type { OperationRecord } from './executor.ts';

interface RootField {
  /** The alias, or the field name: where its data and errors sit in the result. */
  readonly responseKey: string;
  readonly methodId: string;
}

/** The call-log method id of a GraphQL root field. */
export function graphqlMethodId(kind: string, field: string): string {
  return `graphql/${kind}/${field}`;
}

const GRAPHQL_METHOD_ID = /^graphql\/(?:query|mutation|subscription)\/(.+)$/;

/** The key a method's call limits are declared under: a v1 method id as it is, a GraphQL root field by its name. */
export function callLimitKeyOf(methodId: string): string {
  return GRAPHQL_METHOD_ID.exec(methodId)?.[1] ?? methodId;
}

/** Root fields by document, then by operation name ('' for the only one). */
const rootFieldCache = new WeakMap<DocumentNode, Map<string, readonly RootField[]>>();

/**
 * The executor's record hook: every root field of a GraphQL operation becomes one recorded call,
 * `graphql/<query|mutation|subscription>/<field>`, failed when an error sits at its path (or at no
 * path), an exception when that error is a masked internal one. Operations the v1 facade ran are
 * left out: the dispatcher records them once, under their v1 method id.
 */
export function recordOperations(recorder: CallRecorder): (record: OperationRecord) => void {
  return (record) => {
    if (record.source === 'v1') return;
    const fields = rootFields(record);
    for (const field of fields) {
      const error = record.errors.length > 0 ? errorAt(record.errors, field.responseKey) : undefined;
      const status = error ? Number(error.extensions.status ?? 500) : 200;
      const declinedBy = error ? declinedRule(error) : undefined;
      recorder.record({
        methodId: field.methodId,
        principal: record.principal,
        client: record.context.client,
        durationMs: record.durationMs,
        status,
        statusText: error ? error.message : 'OK',
        error: Boolean(error),
        exception: error?.extensions.code === 'INTERNAL_SERVER_ERROR',
        declinedBy,
      });
    }
  };
}

/** The rule of a call limit that refused the operation (`rateLimitedError` names it `<key>:<rule>`). */
function declinedRule(error: GraphQLError): string | undefined {
  const { code, rule } = error.extensions;
  if (code !== 'RATE_LIMITED' || typeof rule !== 'string') return undefined;
  return rule.slice(rule.lastIndexOf(':') + 1);
}

function errorAt(errors: readonly GraphQLError[], responseKey: string): GraphQLError | undefined {
  return errors.find((error) => !error.path?.length || error.path[0] === responseKey);
}

function rootFields(record: OperationRecord): readonly RootField[] {
  let byName = rootFieldCache.get(record.document);
  if (!byName) rootFieldCache.set(record.document, (byName = new Map()));
  const key = record.operationName ?? '';
  let fields = byName.get(key);
  if (!fields) {
    fields = collect(record.document, record.operationName, record.kind);
    byName.set(key, fields);
  }
  return fields;
}

function collect(document: DocumentNode, operationName: string | undefined, kind: string): RootField[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let selectionSet: SelectionSetNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    else if (definition.kind === Kind.OPERATION_DEFINITION && (operationName === undefined || definition.name?.value === operationName)) {
      selectionSet ??= definition.selectionSet;
    }
  }
  const fields = new Map<string, RootField>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const responseKey = selection.alias?.value ?? name;
        if (!fields.has(responseKey)) fields.set(responseKey, { responseKey, methodId: graphqlMethodId(kind, name) });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visited.has(name)) {
          visited.add(name);
          walk(fragment.selectionSet);
        }
      }
    }
  };
  if (selectionSet) walk(selectionSet);
  return [...fields.values()];
}
