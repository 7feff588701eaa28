/** The constraint a PostgreSQL unique violation (23505) names, looking through wrapped errors; null otherwise. */
export function uniqueViolation(error: unknown): string | null {
  for (let current = error as { code?: unknown; constraint?: unknown; constraint_name?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current.code === '23505') {
      const constraint = current.constraint_name ?? current.constraint;
      return typeof constraint === 'string' ? constraint : '';
    }
  }
  return null;
}
