import type { PermissionMap } from '../db/schema.ts';
import { ROOT_USER_ID } from './principal.ts';
import { ValidationError } from './errors.ts';

export interface PermissionState {
  /** The permission name (v1 calls it both `id` and `name`). */
  readonly name: string;
  readonly description: string;
  readonly enabled: boolean;
}

/** One permission switched on or off: the list form of a permission map (GraphQL's `PermissionInput`). */
export interface PermissionEntry {
  readonly name: string;
  readonly enabled: boolean;
}

/** A permission map from its list form. */
export function permissionMapOf(entries: Iterable<PermissionEntry>): PermissionMap {
  const map: PermissionMap = {};
  for (const { name, enabled } of entries) map[name] = enabled;
  return map;
}

/** The list form of a permission map; any value but `true` switches the permission off. */
export function permissionEntries(map: Readonly<Record<string, unknown>>): PermissionEntry[] {
  return Object.entries(map).map(([name, enabled]) => ({ name, enabled: enabled === true }));
}

/** `{ name: true }` for each permission held: the map of what a holder has. */
export function heldPermissionMap(names: Iterable<string>): PermissionMap {
  return permissionMapOf(Array.from(names, (name) => ({ name, enabled: true })));
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  admin: 'Manage users, their permissions and sessions, and the application settings.',
};

/** The permissions this deployment declares: `admin` plus the names in PERMISSIONS. */
export class PermissionCatalog {
  readonly names: readonly string[];
  readonly #declared: ReadonlySet<string>;

  constructor(names: readonly string[]) {
    this.names = names;
    this.#declared = new Set(names);
  }

  has(name: string): boolean {
    return this.#declared.has(name);
  }

  describe(name: string): string {
    return DESCRIPTIONS[name] ?? `Grants the "${name}" permission.`;
  }

  /** Root holds every declared permission; others hold the declared names their map enables. */
  forUser(user: { readonly id: string; readonly permissions: PermissionMap }): Set<string> {
    if (user.id === ROOT_USER_ID) return new Set(this.names);
    return new Set(this.names.filter((name) => user.permissions[name] === true));
  }

  /** A token holds what its own map enables and its owner holds too. */
  forToken(owner: ReadonlySet<string>, token: PermissionMap): Set<string> {
    return new Set([...owner].filter((name) => token[name] === true));
  }

  /** States of `scope` (in declaration order) as seen on a holder of `held`. */
  states(scope: ReadonlySet<string>, held: ReadonlySet<string>): PermissionState[] {
    return this.names
      .filter((name) => scope.has(name))
      .map((name) => ({ name, description: this.describe(name), enabled: held.has(name) }));
  }

  /** Throws the v1 400 for names nobody declared. */
  assertDeclared(map: PermissionMap): void {
    const unknown = Object.keys(map).filter((name) => !this.#declared.has(name));
    if (unknown.length > 0) {
      throw new ValidationError(`Permissions: ${unknown.map((name) => `"${name}"`).join(', ')} are invalid`, 'permissions');
    }
  }
}
