import { heldPermissionMap, permissionEntries, type PermissionEntry } from '../../domain/permissions.ts';
import { apiReadSchema, parseApiRead, readResult, type ApiReadQuery, type ApiReadSpec } from '../api-read.ts';
import { graphql, readFragment, type FragmentOf, type TadaDocumentNode } from '../graphql.ts';
import { v1Method, type Answered, type ParamSpec, type V1Method } from '../method.ts';
import { failure, ok, type V1Result } from '../result.ts';

/** The data of a document: its root fields. */
type Data = Record<string, unknown>;

/** `[{ id, enabled, name, description }]`: v1 calls the permission name both `id` and `name`. */
export function toPermissionStates(states: readonly { name: string; description: string; enabled: boolean }[]) {
  return states.map(({ name, description, enabled }) => ({ id: name, enabled, name, description }));
}

/** The GraphQL order enum value of each sortable v1 field of users and API tokens. */
const RECORD_SORT_FIELDS = { id: 'ID', name: 'NAME', created: 'CREATED_AT', enabled: 'ENABLED' } as const;

/** The variables of a connection read: users and API tokens take the same ones. */
export interface ConnectionVariables {
  readonly first: number;
  readonly offset: number;
  readonly filter: { readonly id?: string; readonly search?: string };
  readonly orderBy: { readonly field: (typeof RECORD_SORT_FIELDS)[keyof typeof RECORD_SORT_FIELDS]; readonly direction: 'ASC' | 'DESC' }[];
}

/** Connection variables for an apiRead query over users or API tokens. */
function readVariables(query: ApiReadQuery): ConnectionVariables {
  const filter: { id?: string; search?: string } = {};
  // The spec declares `id` and `search`, both strings, and the parameter schema admitted only those.
  for (const [name, { value }] of Object.entries(query.where)) filter[name as 'id' | 'search'] = value as string;
  if (query.id !== null) filter.id = query.id;
  return {
    first: query.id !== null ? 1 : query.limit,
    offset: query.id !== null ? 0 : query.offset,
    filter,
    orderBy: query.order.map(([field, direction]) => ({
      field: RECORD_SORT_FIELDS[field as keyof typeof RECORD_SORT_FIELDS],
      direction: direction === 'asc' ? 'ASC' : 'DESC',
    })),
  };
}

export const UserFields = graphql(`
  fragment UserFields on User { id name email emailConfirmed telegramName enabled permissions createdAt avatar }
`);

export function toV1User(fragment: FragmentOf<typeof UserFields>) {
  const user = readFragment(UserFields, fragment);
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    email_confirmed: user.emailConfirmed,
    telegram_name: user.telegramName,
    enabled: user.enabled,
    permissions: heldPermissionMap(user.permissions),
    created: user.createdAt,
    avatar: user.avatar,
  };
}

/**
 * The apiRead options of users and API tokens: `where.id` (=), `where.search` (like); sortable by
 * id, name, created and enabled (the GraphQL order enum values of RECORD_SORT_FIELDS).
 */
export function recordReadSpec(defaultOrder: ApiReadSpec['defaultOrder']): ApiReadSpec {
  return {
    fields: {
      id: { type: 'string', conditions: ['='], sortable: true },
      search: { type: 'string', conditions: ['like'] },
      name: { sortable: true },
      created: { sortable: true },
      enabled: { sortable: true },
    },
    defaultOrder,
    byId: true,
  };
}

/** A page of a GraphQL connection, as the read documents select it. */
interface ConnectionPage<N> {
  readonly totalCount: number;
  readonly edges: readonly { readonly node: N }[];
}

/** A v1 apiRead method over a GraphQL connection that takes the `ConnectionVariables`. */
export interface ConnectionRead<R extends Data, N> {
  readonly id: string;
  readonly permission: string;
  readonly title: string;
  readonly spec: ApiReadSpec;
  readonly document: TadaDocumentNode<R, ConnectionVariables>;
  /** The connection in the document's data. */
  readonly connection: (data: Answered<TadaDocumentNode<R, ConnectionVariables>>) => ConnectionPage<N>;
  readonly toRow: (node: N) => unknown;
}

export function connectionReadMethod<R extends Data, N>(read: ConnectionRead<R, N>): V1Method {
  return v1Method({
    id: read.id,
    permission: read.permission,
    title: read.title,
    params: [{ name: 'options', required: false, schema: apiReadSchema(read.spec) }],
    document: read.document,
    plan: ([options]) => {
      const query = parseApiRead(options, read.spec);
      return { variables: readVariables(query), single: query.id !== null };
    },
    result: (data, _call, plan) => {
      const connection = read.connection(data);
      const rows = connection.edges.map(({ node }) => read.toRow(node));
      if (plan.single) return ok(rows[0] ?? null);
      const { data: page, meta } = readResult(rows, connection.totalCount);
      return ok(page, meta);
    },
  });
}

type IdVariables = { readonly id: string };
// Mutable arrays: the document's variables type says `T[]`, which a readonly array does not satisfy.
type PermissionsVariables = IdVariables & { readonly permissions: PermissionEntry[] };

/** A v1 module managing records that have an enabled flag and permissions (users, API tokens). */
export interface ManagedRecords {
  /** `/v1/admin/users` */
  readonly module: string;
  readonly permission: string;
  /** `user`, `token`: used in titles. */
  readonly noun: string;
  /** The positional parameter naming the record (`user_id`, `token_id`). */
  readonly target: ParamSpec;
  readonly notFound: string;
}

/** `set-enabled`: 200 when the state changed, 204 when it already was so. */
export function setEnabledMethod<R extends Data>(
  records: ManagedRecords,
  document: TadaDocumentNode<R, IdVariables & { readonly enabled: boolean }>,
  changed: (data: Answered<TadaDocumentNode<R>>) => boolean,
): V1Method {
  return v1Method({
    id: `${records.module}/set-enabled`,
    permission: records.permission,
    title: `Set ${records.noun} enabled`,
    params: [records.target, { name: 'enabled', required: true, schema: { type: 'boolean' } }],
    document,
    plan: ([id, enabled]) => ({ variables: { id: id as string, enabled: enabled as boolean } }),
    result: (data) => changedResult(changed(data)),
  });
}

/** The documents of the permission trio, and where the permission states sit in the first one's data. */
export interface PermissionDocuments<G extends Data, S extends Data, U extends Data> {
  readonly get: TadaDocumentNode<G, IdVariables>;
  /** The record's permission states; null when there is no such record. */
  readonly states: (data: Answered<TadaDocumentNode<G>>) => readonly { name: string; description: string; enabled: boolean }[] | null;
  /** Replaces the permissions. */
  readonly set: TadaDocumentNode<S, PermissionsVariables>;
  /** Merges the permissions into the current ones. */
  readonly update: TadaDocumentNode<U, PermissionsVariables>;
}

/** `get-permissions`, `set-permissions` (replace) and `update-permissions` (merge). */
export function permissionMethods<G extends Data, S extends Data, U extends Data>(records: ManagedRecords, documents: PermissionDocuments<G, S, U>): V1Method[] {
  const get = v1Method({
    id: `${records.module}/get-permissions`,
    permission: records.permission,
    title: `Get ${records.noun} permissions`,
    params: [records.target],
    document: documents.get,
    plan: ([id]) => ({ variables: { id: id as string } }),
    result: (data) => {
      const states = documents.states(data);
      return states ? ok(toPermissionStates(states)) : failure(404, records.notFound);
    },
  });
  const change = (['set', 'update'] as const).map((mode) =>
    v1Method({
      id: `${records.module}/${mode}-permissions`,
      permission: records.permission,
      title: `${mode === 'set' ? 'Set' : 'Update'} ${records.noun} permissions`,
      params: [
        records.target,
        {
          name: 'permissions',
          required: true,
          schema: { type: 'object', additionalProperties: { type: 'boolean' } },
          description:
            mode === 'set'
              ? 'Permission name → `true` to enable it; replaces the permissions.'
              : 'Permission name → `true` to enable it; other permissions stay as they are.',
        },
      ],
      document: documents[mode],
      plan: ([id, permissions]) => ({ variables: { id: id as string, permissions: permissionEntries(permissions as Record<string, unknown>) } }),
      result: () => ok(),
    }),
  );
  return [get, ...change];
}

/** set-enabled answers 200 when the state changed and 204 when it already was so. */
function changedResult(changed: boolean): V1Result {
  return changed ? ok(null, { rows: 1 }) : { status: 204, meta: { rows: 0 } };
}
