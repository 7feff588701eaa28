import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { getTableName, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { actionTokens, apiTokens, sessions } from '../db/schema.ts';

/** The kind of credential a token stands for; the number is embedded in the token. */
export const TokenType = {
  apiToken: 2,
  session: 3,
  emailConfirmation: 4,
  passwordReset: 5,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

const TOKEN_BYTES = 25;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{34}$/;
const KNOWN_TYPES = new Set<number>(Object.values(TokenType));

export interface IssuedToken {
  /** The secret string the holder presents; shown once, never stored. */
  readonly token: string;
  /** What is stored instead, to check a presented token against. */
  readonly secretHash: string;
}

export interface ParsedToken {
  readonly type: TokenType;
  readonly id: string;
  readonly secretHash: string;
}

/**
 * Tokens are 25 bytes as 34 characters of base64url without padding, so they are valid HTTP tokens
 * and WebSocket subprotocols. Bytes 0–7 hold the record id XOR-ed with the complement of bytes 9–16,
 * byte 8 the type, bytes 9–24 are random. Type and id come out without a database read; the
 * SHA3-512 hash of all 25 bytes is what the record keeps.
 */
export function issueToken(type: TokenType, id: string): IssuedToken {
  const bytes = randomBytes(TOKEN_BYTES);
  bytes[8] = type;
  bytes.writeBigUInt64BE(BigInt(id) ^ mask(bytes), 0);
  return { token: bytes.toString('base64url'), secretHash: hashTokenBytes(bytes) };
}

/** The table holding the records each kind of token stands for. */
const RECORD_TABLES = {
  [TokenType.apiToken]: apiTokens,
  [TokenType.session]: sessions,
  [TokenType.emailConfirmation]: actionTokens,
  [TokenType.passwordReset]: actionTokens,
} as const;

export interface RecordToken extends IssuedToken {
  /** The id the new record must be inserted with. */
  readonly id: string;
}

/**
 * Takes the next id of the record table of `type` and issues a token that embeds it. The id is
 * drawn before the insert because the token, and so the stored hash, contains it.
 */
export async function issueRecordToken(db: Db, type: TokenType): Promise<RecordToken> {
  const table = getTableName(RECORD_TABLES[type]);
  const result = await db.execute(sql`select nextval(pg_get_serial_sequence(${table}, 'id'))::text as id`);
  const id = rowsOf<{ id: string }>(result)[0]!.id;
  return { id, ...issueToken(type, id) };
}

/** postgres.js returns the rows themselves, PGlite an object holding them. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

/** Null for anything that is not a well-formed token of a known type. */
export function parseToken(token: string): ParsedToken | null {
  if (!TOKEN_PATTERN.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) return null;
  const type = bytes[8]!;
  if (!KNOWN_TYPES.has(type)) return null;
  const id = bytes.readBigUInt64BE(0) ^ mask(bytes);
  if (id < 1n || id > 9223372036854775807n) return null;
  return { type: type as TokenType, id: id.toString(), secretHash: hashTokenBytes(bytes) };
}

/** Constant-time comparison of a presented token's hash with the stored one. */
export function secretMatches(parsed: ParsedToken, storedHash: string): boolean {
  const presented = Buffer.from(parsed.secretHash);
  const stored = Buffer.from(storedHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

function mask(bytes: Buffer): bigint {
  return ~bytes.readBigUInt64BE(9) & 0xffffffffffffffffn;
}

function hashTokenBytes(bytes: Buffer): string {
  return createHash('sha3-512').update(bytes).digest('base64');
}

/** The token of an `Authorization` value, with or without the (case-insensitive) `Bearer` scheme. */
export function bearerToken(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const value = authorization.trim();
  const token = /^bearer\s/i.test(value) ? value.slice(7).trim() : value;
  return token === '' ? null : token;
}
