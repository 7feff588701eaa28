import { apiReadSchema, parseApiRead, readResult, type ApiReadQuery, type ApiReadSpec } from '../api-read.ts';
import { ERROR_FIELDS, type ParamSpec, type V1Method } from '../method.ts';
import { failure, ok, type V1Result } from '../result.ts';

/** `{ name: true }` for each listed permission, the map shape v1 results use. */
export function toPermissionMap(names: readonly string[]): Record<string, true> {
  const map: Record<string, true> = {};
  for (const name of names) map[name] = true;
  return map;
}

/** A v1 `{ name: bool }` map as the GraphQL `[PermissionInput!]!` list. */
export function toPermissionInputs(map: Record<string, unknown>): { name: string; enabled: boolean }[] {
  return Object.entries(map).map(([name, enabled]) => ({ name, enabled: enabled === true }));
}

/** `[{ id, enabled, name, description }]`: v1 calls the permission name both `id` and `name`. */
export function toPermissionStates(states: readonly { name: string; description: string; enabled: boolean }[]) {
  return states.map(({ name, description, enabled }) => ({ id: name, enabled, name, description }));
}

/** Connection variables for an apiRead query; `sortFields` maps v1 sort names to the GraphQL enum. */
export function readVariables(query: ApiReadQuery, sortFields: Readonly<Record<string, string>>) {
  const filter: Record<string, unknown> = {};
  for (const [name, { value }] of Object.entries(query.where)) filter[name] = value;
  if (query.id !== null) filter.id = query.id;
  return {
    first: query.id !== null ? 1 : query.limit,
    offset: query.id !== null ? 0 : query.offset,
    filter,
    orderBy: query.order.map(([field, direction]) => ({ field: sortFields[field], direction: direction.toUpperCase() })),
  };
}

export interface UserNode {
  id: string;
  name: string;
  email: string | null;
  emailConfirmed: boolean;
  telegramName: string | null;
  enabled: boolean;
  permissions: string[];
  createdAt: string;
  avatar: string;
}

export const USER_FIELDS = 'id name email emailConfirmed telegramName enabled permissions createdAt avatar';

export function toV1User(user: UserNode) {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    email_confirmed: user.emailConfirmed,
    telegram_name: user.telegramName,
    enabled: user.enabled,
    permissions: toPermissionMap(user.permissions),
    created: user.createdAt,
    avatar: user.avatar,
  };
}

/**
 * The apiRead options of users and API tokens: `where.id` (=), `where.search` (like); sortable by
 * id, name, created and enabled (the GraphQL order enum values below).
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

export const RECORD_SORT_FIELDS = { id: 'ID', name: 'NAME', created: 'CREATED_AT', enabled: 'ENABLED' } as const;

/** A v1 apiRead method over a GraphQL connection that takes `first`, `offset`, `filter` and `orderBy`. */
export interface ConnectionRead<N> {
  readonly id: string;
  readonly permission: string;
  readonly title: string;
  readonly spec: ApiReadSpec;
  /** v1 sort field → the GraphQL order enum value. */
  readonly sortFields: Readonly<Record<string, string>>;
  readonly connection: string;
  readonly filterType: string;
  readonly orderType: string;
  readonly nodeFields: string;
  readonly toRow: (node: N) => unknown;
}

export function connectionReadMethod<N>(read: ConnectionRead<N>): V1Method {
  const operation = `${read.connection[0]!.toUpperCase()}${read.connection.slice(1)}Read`;
  return {
    id: read.id,
    permission: read.permission,
    title: read.title,
    params: [{ name: 'options', required: false, schema: apiReadSchema(read.spec) }],
    document: `query ${operation}($first: Int, $offset: Int, $filter: ${read.filterType}, $orderBy: [${read.orderType}!]) {
      ${read.connection}(first: $first, offset: $offset, filter: $filter, orderBy: $orderBy) {
        totalCount
        edges { node { ${read.nodeFields} } }
      }
    }`,
    plan: ([options]) => {
      const query = parseApiRead(options, read.spec);
      return { variables: readVariables(query, read.sortFields), single: query.id !== null };
    },
    result: (data, _call, plan) => {
      const connection = data[read.connection] as { totalCount: number; edges: { node: N }[] };
      const rows = connection.edges.map(({ node }) => read.toRow(node));
      if (plan.single) return ok(rows[0] ?? null);
      const { data: page, meta } = readResult(rows, connection.totalCount);
      return ok(page, meta);
    },
  };
}

/** A v1 module managing records that have an enabled flag and permissions (users, API tokens). */
export interface ManagedRecords {
  /** `/v1/admin/users` */
  readonly module: string;
  readonly permission: string;
  /** `user`, `token`: used in titles. */
  readonly noun: string;
  /** The positional parameter naming the record (`user_id`, `token_id`). */
  readonly target: ParamSpec;
  /** The GraphQL query field that finds one record by id (null when there is none). */
  readonly lookup: string;
  readonly notFound: string;
  /** GraphQL mutations and payload type, e.g. `setUserEnabled` / `SetUserEnabledPayload`. */
  readonly setEnabled: { readonly mutation: string; readonly payload: string };
  readonly setPermissions: (mode: 'set' | 'update') => string;
}

const operationName = (field: string, prefix = '') => `${prefix}${field[0]!.toUpperCase()}${field.slice(1)}`;

/** `set-enabled`: 200 when the state changed, 204 when it already was so. */
export function setEnabledMethod(records: ManagedRecords): V1Method {
  const { mutation, payload } = records.setEnabled;
  return {
    id: `${records.module}/set-enabled`,
    permission: records.permission,
    title: `Set ${records.noun} enabled`,
    params: [records.target, { name: 'enabled', required: true, schema: { type: 'boolean' } }],
    document: `mutation ${operationName(mutation)}($id: ID!, $enabled: Boolean!) {
      ${mutation}(id: $id, enabled: $enabled) { ${ERROR_FIELDS} ... on ${payload} { changed } }
    }`,
    plan: ([id, enabled]) => ({ variables: { id, enabled } }),
    result: (data) => changedResult((data[mutation] as { changed: boolean }).changed),
  };
}

/** `get-permissions`, `set-permissions` (replace) and `update-permissions` (merge). */
export function permissionMethods(records: ManagedRecords): V1Method[] {
  const get: V1Method = {
    id: `${records.module}/get-permissions`,
    permission: records.permission,
    title: `Get ${records.noun} permissions`,
    params: [records.target],
    document: `query ${operationName(records.lookup, 'Get')}Permissions($id: ID!) {
      ${records.lookup}(id: $id) { permissionStates { name description enabled } }
    }`,
    plan: ([id]) => ({ variables: { id } }),
    result: (data) => {
      const record = data[records.lookup] as { permissionStates: { name: string; description: string; enabled: boolean }[] } | null;
      return record ? ok(toPermissionStates(record.permissionStates)) : failure(404, records.notFound);
    },
  };
  const change = (['set', 'update'] as const).map((mode): V1Method => {
    const mutation = records.setPermissions(mode);
    return {
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
      document: `mutation ${operationName(mutation)}($id: ID!, $permissions: [PermissionInput!]!) {
        ${mutation}(id: $id, permissions: $permissions) { ${ERROR_FIELDS} }
      }`,
      plan: ([id, permissions]) => ({ variables: { id, permissions: toPermissionInputs(permissions as Record<string, unknown>) } }),
      result: () => ok(),
    };
  });
  return [get, ...change];
}

/** set-enabled answers 200 when the state changed and 204 when it already was so. */
export function changedResult(changed: boolean): V1Result {
  return changed ? ok(null, { rows: 1 }) : { status: 204, meta: { rows: 0 } };
}
