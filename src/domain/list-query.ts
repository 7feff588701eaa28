export type SortDirection = 'asc' | 'desc';

export interface SortOrder<F extends string> {
  readonly field: F;
  readonly direction: SortDirection;
}

export interface Page {
  readonly offset: number;
  /** At most MAX_PAGE_SIZE. */
  readonly limit: number;
}

/** The most rows one page of a list holds: GraphQL connections and v1 reads alike. */
export const MAX_PAGE_SIZE = 100;

/** The rows of a GraphQL connection page whose `first` and `last` are left out. */
export const DEFAULT_PAGE_SIZE = 20;

/** `%` and `_` match themselves: searches are plain case-insensitive substrings. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}
