import type { UserRow } from '../db/schema.ts';

/** What a request knows about its user, loaded with the credential and cached with it. */
export type UserSnapshot = Pick<
  UserRow,
  'id' | 'name' | 'email' | 'emailConfirmed' | 'telegramName' | 'enabled' | 'permissions' | 'createdAt'
>;

interface Authenticated {
  readonly user: UserSnapshot;
  readonly root: boolean;
  /** Effective permissions: the user's, intersected with the API token's own map for tokens. */
  readonly permissions: ReadonlySet<string>;
}

export interface GuestPrincipal {
  readonly kind: 'guest';
}

export interface SessionPrincipal extends Authenticated {
  readonly kind: 'session';
  readonly sessionId: string;
  readonly expiresAt: Date;
}

export interface ApiTokenPrincipal extends Authenticated {
  readonly kind: 'apiToken';
  readonly tokenId: string;
}

export type Principal = GuestPrincipal | SessionPrincipal | ApiTokenPrincipal;
export type AuthenticatedPrincipal = SessionPrincipal | ApiTokenPrincipal;

export const GUEST: GuestPrincipal = Object.freeze({ kind: 'guest' });

export const ROOT_USER_ID = '1';
export const ROOT_USERNAME = 'root';

/**
 * The v1 permission classes: `*` (everyone), `guest`, `user` (any authenticated principal),
 * `root`, or a declared permission name.
 */
export function hasPermission(principal: Principal, permission: string): boolean {
  switch (permission) {
    case '*':
      return true;
    case 'guest':
      return principal.kind === 'guest';
    case 'user':
      return principal.kind !== 'guest';
    case 'root':
      return principal.kind !== 'guest' && principal.root;
    default:
      return principal.kind !== 'guest' && principal.permissions.has(permission);
  }
}

/** Access is granted when any one of the listed permissions matches. */
export function hasAnyPermission(principal: Principal, permissions: readonly string[]): boolean {
  return permissions.some((permission) => hasPermission(principal, permission));
}
