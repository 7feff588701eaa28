import { and, asc, count, desc, eq, ilike, ne, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { apiTokens, type ApiTokenRow, type PermissionMap } from '../db/schema.ts';
import { authTags } from './auth.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { containsPattern, type Page, type SortOrder } from './list-query.ts';
import type { PermissionCatalog, PermissionState } from './permissions.ts';
import type { AuthenticatedPrincipal } from './principal.ts';
import { isRecordId } from './record-ids.ts';
import { IGNORE_SECURITY_EVENTS, type SecurityEventSink } from './security-events.ts';
import { issueRecordToken, TokenType } from './tokens.ts';
import { isStorableText } from './user-fields.ts';

export type ApiTokenSortField = 'id' | 'name' | 'createdAt' | 'enabled';

export interface ApiTokenFilter {
  readonly id?: string | null;
  /** Case-insensitive substring of the token name. */
  readonly search?: string | null;
}

export interface ApiTokensDeps {
  readonly db: Db;
  readonly catalog: PermissionCatalog;
  readonly invalidate: (tags: readonly string[]) => Promise<void>;
  /** Tells users about security events on their accounts. */
  readonly securityEvent?: SecurityEventSink;
}

const sortColumns = { id: apiTokens.id, name: apiTokens.name, createdAt: apiTokens.createdAt, enabled: apiTokens.enabled } as const;
const NAME_MAX_LENGTH = 255;

/** A principal's own API tokens; every operation is scoped to the caller's user. */
export class ApiTokens {
  readonly #deps: ApiTokensDeps;

  constructor(deps: ApiTokensDeps) {
    this.#deps = deps;
  }

  async count(owner: AuthenticatedPrincipal, filter: ApiTokenFilter): Promise<number> {
    const [row] = await this.#deps.db.select({ total: count() }).from(apiTokens).where(this.#condition(owner, filter));
    return row?.total ?? 0;
  }

  async list(
    owner: AuthenticatedPrincipal,
    filter: ApiTokenFilter,
    order: readonly SortOrder<ApiTokenSortField>[],
    page: Page,
  ): Promise<ApiTokenRow[]> {
    return this.#deps.db
      .select()
      .from(apiTokens)
      .where(this.#condition(owner, filter))
      .orderBy(...order.map(({ field, direction }) => (direction === 'desc' ? desc : asc)(sortColumns[field])), asc(apiTokens.id))
      .offset(page.offset)
      .limit(page.limit);
  }

  async get(owner: AuthenticatedPrincipal, id: string): Promise<ApiTokenRow> {
    if (!isRecordId(id)) throw new NotFoundError('Token not found');
    const [row] = await this.#deps.db
      .select()
      .from(apiTokens)
      .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, owner.user.id)));
    if (!row) throw new NotFoundError('Token not found');
    return row;
  }

  /** A new token: enabled, without permissions until some are set. The secret is returned only here. */
  async create(owner: AuthenticatedPrincipal, name: string): Promise<{ token: string; row: ApiTokenRow }> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > NAME_MAX_LENGTH) {
      throw new ValidationError(`Token name must be 1 to ${NAME_MAX_LENGTH} characters long`, 'name');
    }
    if (!isStorableText(trimmed)) throw new ValidationError('Token name must not contain NUL or unpaired surrogate characters', 'name');
    const { id, token, secretHash } = await issueRecordToken(this.#deps.db, TokenType.apiToken);
    const [row] = await this.#deps.db
      .insert(apiTokens)
      .values({ id, userId: owner.user.id, name: trimmed, secretHash, permissions: {} })
      .returning();
    await (this.#deps.securityEvent ?? IGNORE_SECURITY_EVENTS)(owner.user.id, { kind: 'apiTokenCreated', name: trimmed });
    return { token, row: row! };
  }

  async delete(owner: AuthenticatedPrincipal, id: string): Promise<ApiTokenRow> {
    const row = await this.get(owner, id);
    await this.#deps.db.delete(apiTokens).where(eq(apiTokens.id, row.id));
    await this.#deps.invalidate([authTags.apiToken(row.id)]);
    return row;
  }

  async setEnabled(owner: AuthenticatedPrincipal, id: string, enabled: boolean): Promise<{ row: ApiTokenRow; changed: boolean }> {
    const row = await this.get(owner, id);
    const [updated] = await this.#deps.db
      .update(apiTokens)
      .set({ enabled })
      .where(and(eq(apiTokens.id, row.id), ne(apiTokens.enabled, enabled)))
      .returning();
    if (!updated) return { row, changed: false };
    await this.#deps.invalidate([authTags.apiToken(row.id)]);
    return { row: updated, changed: true };
  }

  /** What the token effectively holds: its own map within what its owner holds. */
  effectivePermissions(owner: AuthenticatedPrincipal, row: ApiTokenRow): Set<string> {
    return this.#deps.catalog.forToken(this.#deps.catalog.forUser(owner.user), row.permissions);
  }

  /** Every permission the owner holds, marked with whether the token has it too. */
  async permissionStates(owner: AuthenticatedPrincipal, id: string): Promise<PermissionState[]> {
    const row = await this.get(owner, id);
    return this.#deps.catalog.states(this.#deps.catalog.forUser(owner.user), this.effectivePermissions(owner, row));
  }

  /**
   * Each name must be one the caller itself holds (even to switch it off), so a token can never
   * be given more than the principal that configures it.
   */
  async setPermissions(
    owner: AuthenticatedPrincipal,
    id: string,
    permissions: PermissionMap,
    mode: 'replace' | 'merge',
  ): Promise<ApiTokenRow> {
    const row = await this.get(owner, id);
    const invalid = Object.keys(permissions).find((name) => !owner.permissions.has(name));
    if (invalid !== undefined) throw new ValidationError(`Token permission "${invalid}" is not valid`, 'permissions');
    const next = mode === 'merge' ? { ...row.permissions, ...permissions } : { ...permissions };
    const [updated] = await this.#deps.db.update(apiTokens).set({ permissions: next }).where(eq(apiTokens.id, row.id)).returning();
    if (!updated) throw new NotFoundError('Token not found');
    await this.#deps.invalidate([authTags.apiToken(row.id)]);
    return updated;
  }

  #condition(owner: AuthenticatedPrincipal, filter: ApiTokenFilter): SQL | undefined {
    return and(
      eq(apiTokens.userId, owner.user.id),
      filter.id ? (isRecordId(filter.id) ? eq(apiTokens.id, filter.id) : sql`false`) : undefined,
      // No stored name holds what PostgreSQL text cannot, so such a search matches nothing.
      filter.search ? (isStorableText(filter.search) ? ilike(apiTokens.name, containsPattern(filter.search)) : sql`false`) : undefined,
    );
  }
}
