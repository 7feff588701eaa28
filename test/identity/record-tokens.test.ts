import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { sessions, users } from '../../src/db/schema.ts';
import { issueRecordToken, parseToken, TokenType } from '../../src/domain/tokens.ts';
import { MODES } from '../helpers/gateway.ts';
import { freshPglite } from '../helpers/pglite.ts';
import { createTestDatabase } from '../helpers/services.ts';

describe.each(MODES)('tokens for new records (%s)', (mode) => {
  let database: Database;
  let close: () => Promise<void>;

  beforeAll(async () => {
    if (mode === 'embedded') {
      const pglite = await freshPglite();
      database = await openDatabase({ kind: 'pglite', client: pglite });
      close = () => pglite.close();
    } else {
      const testDatabase = await createTestDatabase();
      database = await openDatabase({ kind: 'postgres', url: testDatabase.url, maxConnections: 2 });
      await database.migrate();
      close = async () => {
        await database.close();
        await testDatabase.drop();
      };
    }
  });
  afterAll(() => close?.());

  it('embed a fresh id from the sequence of the table each kind is stored in', async () => {
    const first = await issueRecordToken(database.db, TokenType.session);
    const second = await issueRecordToken(database.db, TokenType.session);
    expect(BigInt(second.id)).toBeGreaterThan(BigInt(first.id));
    expect(parseToken(second.token)).toEqual({ type: TokenType.session, id: second.id, secretHash: second.secretHash });

    // API tokens count on their own; both action-token kinds share one table, hence one sequence.
    const apiToken = await issueRecordToken(database.db, TokenType.apiToken);
    expect(apiToken.id).toBe('1');
    const confirmation = await issueRecordToken(database.db, TokenType.emailConfirmation);
    const reset = await issueRecordToken(database.db, TokenType.passwordReset);
    expect([confirmation.id, reset.id]).toEqual(['1', '2']);
    expect(parseToken(reset.token)?.type).toBe(TokenType.passwordReset);
  });

  it('give ids the table accepts and does not hand out again', async () => {
    const [user] = await database.db.insert(users).values({ name: `record_token_${mode}` }).returning();
    const issued = await issueRecordToken(database.db, TokenType.session);
    await database.db.insert(sessions).values({ id: issued.id, userId: user!.id, secretHash: issued.secretHash, expiresAt: new Date(Date.now() + 60_000) });
    // A row inserted without an id takes the next one, never the one already drawn.
    const [next] = await database.db
      .insert(sessions)
      .values({ userId: user!.id, secretHash: 'x', expiresAt: new Date(Date.now() + 60_000) })
      .returning({ id: sessions.id });
    expect(BigInt(next!.id)).toBeGreaterThan(BigInt(issued.id));
  });
});
