import { cursorToOffset, offsetToCursor } from '@pothos/plugin-relay';
import { ValidationError } from '../domain/errors.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../domain/list-query.ts';

export interface OffsetConnectionArgs {
  readonly first?: number | null;
  readonly last?: number | null;
  readonly after?: string | null;
  readonly before?: string | null;
  /** Items to skip after `after` (or from the start): page jumps without walking cursors. */
  readonly offset?: number | null;
}

export interface OffsetSource<T> {
  count(): Promise<number>;
  page(offset: number, limit: number): Promise<readonly T[]>;
}

export interface OffsetConnection<T> {
  readonly totalCount: number;
  readonly edges: { cursor: string; node: T }[];
  readonly pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}


function position(cursor: string, name: string): number {
  try {
    const offset = cursorToOffset(cursor);
    if (Number.isSafeInteger(offset) && offset >= 0) return offset;
  } catch {
    // reported below
  }
  throw new ValidationError(`Cursor "${name}" is invalid`, name);
}

function size(value: number | null | undefined, name: string): number | null {
  if (value === null || value === undefined) return null;
  if (value < 0) throw new ValidationError(`"${name}" must not be negative`, name);
  return Math.min(value, MAX_PAGE_SIZE);
}

/**
 * Relay connection over an offset-paged source, with `totalCount`. Page sizes above 100 are
 * clamped to 100. The count and the page are read together unless `last`/`before` need the count first.
 */
export async function offsetConnection<T>(args: OffsetConnectionArgs, source: OffsetSource<T>): Promise<OffsetConnection<T>> {
  const first = size(args.first, 'first');
  const last = size(args.last, 'last');
  const skip = args.offset ?? 0;
  if (skip < 0) throw new ValidationError('"offset" must not be negative', 'offset');
  const start = (args.after ? position(args.after, 'after') + 1 : 0) + skip;

  let total: number;
  let from = start;
  let items: readonly T[];
  if (last === null && !args.before) {
    const limit = first ?? DEFAULT_PAGE_SIZE;
    [total, items] = await Promise.all([source.count(), limit > 0 ? source.page(start, limit) : Promise.resolve([])]);
  } else {
    total = await source.count();
    let end = args.before ? Math.min(position(args.before, 'before'), total) : total;
    from = Math.min(start, end);
    if (first !== null) end = Math.min(end, from + first);
    if (last !== null) from = Math.max(from, end - last);
    items = end > from ? await source.page(from, end - from) : [];
  }
  const edges = items.map((node, index) => ({ cursor: offsetToCursor(from + index), node }));
  return {
    totalCount: total,
    edges,
    pageInfo: {
      hasPreviousPage: from > 0,
      hasNextPage: from + items.length < total,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
