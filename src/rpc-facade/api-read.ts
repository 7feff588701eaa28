import { MAX_PAGE_SIZE } from '../domain/list-query.ts';
import type { JsonSchema } from './method.ts';

export type Condition = '=' | '!=' | '<' | '>' | '<=' | '>=' | 'like';

export interface ApiReadField {
  /** The value type; omitted for fields that are only sortable. */
  readonly type?: 'string' | 'integer' | 'boolean';
  readonly conditions?: readonly Condition[];
  readonly sortable?: boolean;
  /** Enforced only when `where` is given (as the original server did). */
  readonly required?: boolean;
}

export interface ApiReadSpec {
  readonly fields: Readonly<Record<string, ApiReadField>>;
  readonly defaultOrder: readonly (readonly [string, 'asc' | 'desc'])[];
  /** Whether `options.id` (one row, as an object) is accepted. */
  readonly byId: boolean;
}

export interface ApiReadQuery {
  readonly where: Readonly<Record<string, { op: Condition; value: unknown }>>;
  readonly order: readonly (readonly [string, 'asc' | 'desc'])[];
  readonly offset: number;
  readonly limit: number;
  readonly id: string | null;
}

/** The JSON Schema of an apiRead `options` parameter: only declared fields, operators and sort names. */
export function apiReadSchema(spec: ApiReadSpec): JsonSchema {
  const where: Record<string, JsonSchema> = {};
  const requiredWhere: string[] = [];
  for (const [name, field] of Object.entries(spec.fields)) {
    if (!field.conditions?.length) continue;
    const value = { type: field.type ?? 'string' };
    const tuple = { type: 'array', items: [{ enum: field.conditions }, value], minItems: 2, maxItems: 2 };
    where[name] = field.conditions.includes('=') ? { anyOf: [tuple, value] } : tuple;
    if (field.required) requiredWhere.push(name);
  }
  const sortable = Object.entries(spec.fields)
    .filter(([, field]) => field.sortable)
    .map(([name]) => name);
  const sortItem = {
    anyOf: [
      { enum: sortable },
      { type: 'array', items: [{ enum: sortable }, { enum: ['asc', 'desc'] }], minItems: 1, maxItems: 2 },
    ],
  };
  const properties: Record<string, JsonSchema> = {
    where: { type: 'object', properties: where, additionalProperties: false, required: requiredWhere },
    order_by: { anyOf: [{ enum: sortable }, { type: 'array', items: sortItem }] },
    offset: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 0 },
  };
  if (spec.byId) properties.id = { type: 'string' };
  return { type: 'object', properties, additionalProperties: false };
}

/** Reads validated apiRead options: bare values mean "=", limits are clamped to the page maximum, 0 means the maximum. */
export function parseApiRead(options: unknown, spec: ApiReadSpec): ApiReadQuery {
  const given = (options ?? {}) as {
    where?: Record<string, unknown>;
    order_by?: unknown;
    offset?: number;
    limit?: number;
    id?: string;
  };
  const where: Record<string, { op: Condition; value: unknown }> = {};
  for (const [name, condition] of Object.entries(given.where ?? {})) {
    where[name] = Array.isArray(condition) ? { op: condition[0] as Condition, value: condition[1] } : { op: '=', value: condition };
  }
  const orderBy = given.order_by === undefined ? undefined : Array.isArray(given.order_by) ? given.order_by : [given.order_by];
  const order =
    orderBy && orderBy.length > 0
      ? orderBy.map((item): readonly [string, 'asc' | 'desc'] =>
          Array.isArray(item) ? [item[0] as string, (item[1] as 'asc' | 'desc' | undefined) ?? 'asc'] : [item as string, 'asc'],
        )
      : spec.defaultOrder;
  const limit = !given.limit ? MAX_PAGE_SIZE : Math.min(given.limit, MAX_PAGE_SIZE);
  return { where, order, offset: given.offset ?? 0, limit, id: spec.byId && given.id !== undefined ? given.id : null };
}

/** The v1 answer to a read: rows with `meta.total`, `data: null` when the page is empty. */
export function readResult(rows: readonly unknown[], total: number): { data: unknown; meta: Record<string, unknown> } {
  if (rows.length === 0) return { data: null, meta: { total, summary: { total } } };
  return { data: rows, meta: { rows: rows.length, total, summary: { total } } };
}
