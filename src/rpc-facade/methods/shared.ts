import type { ApiReadQuery } from '../api-read.ts';

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
