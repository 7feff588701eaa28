const MAX_BIGINT = 9223372036854775807n;

/** A string that can be the id of a row (a positive PostgreSQL bigint); anything else matches no row. */
export function isRecordId(value: string): boolean {
  return /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT;
}
