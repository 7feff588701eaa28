import { getNamedType, isLeafType, type GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/graph/schema.ts';
import { graphql } from '../../src/rpc-facade/graphql.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  createApiToken,
  createSignedInUser,
  gql,
  gqlWs,
  ok,
  rootSession,
  signIn,
  uniqueUsername,
  type GqlError,
} from '../helpers/graphql.ts';

/** Who may use a root field: everyone, any signed-in principal, or admins (root included). */
type Access = 'everyone' | 'signedIn' | 'admin';
type Operation = 'query' | 'mutation' | 'subscription';

interface Expectation {
  readonly access: Access;
  /** Arguments of a minimal valid document; a function when each call needs fresh values. */
  readonly args?: string | (() => string);
}

const MISSING = '"987654321"';
const NOBODY = () => `"${uniqueUsername('nobody')}"`;

/**
 * Every root field of the schema, with who may call it. A field added to the schema without an
 * entry here fails the suite. Documents of mutations that would harm the shared principals are
 * chosen to end in a typed error (a missing id, a too-short password): the access check comes first.
 */
const EXPECTATIONS: Record<Operation, Record<string, Expectation>> = {
  query: {
    serverTime: { access: 'everyone' },
    viewer: { access: 'everyone' },
    apiTokens: { access: 'signedIn' },
    apiToken: { access: 'signedIn', args: '(id: "1")' },
    users: { access: 'admin' },
    user: { access: 'admin', args: '(id: "1")' },
    suggestUsers: { access: 'admin', args: '(first: 1)' },
    settings: { access: 'admin' },
    outbox: { access: 'admin' },
    notifications: { access: 'signedIn' },
    apiStats: { access: 'admin' },
    apiCallLog: { access: 'admin' },
  },
  mutation: {
    signUp: { access: 'everyone', args: () => `(input: { username: ${NOBODY()}, password: "matrix password" })` },
    signIn: { access: 'everyone', args: () => `(input: { username: ${NOBODY()}, password: "wrong password" })` },
    resumeSession: { access: 'everyone' },
    signOut: { access: 'everyone' },
    testUpload: { access: 'everyone', args: '(data: { probe: 1 })' },
    changePassword: { access: 'signedIn', args: '(password: "short")' },
    setEmail: { access: 'signedIn', args: '(email: "not an e-mail")' },
    setTelegramUsername: { access: 'signedIn', args: '(telegramUsername: "no")' },
    deleteOtherSessions: { access: 'signedIn' },
    createApiToken: { access: 'signedIn', args: '(name: "matrix")' },
    deleteApiToken: { access: 'signedIn', args: `(id: ${MISSING})` },
    setApiTokenEnabled: { access: 'signedIn', args: `(id: ${MISSING}, enabled: true)` },
    setApiTokenPermissions: { access: 'signedIn', args: `(id: ${MISSING}, permissions: [])` },
    updateApiTokenPermissions: { access: 'signedIn', args: `(id: ${MISSING}, permissions: [])` },
    createUser: { access: 'admin', args: () => `(input: { username: ${NOBODY()} })` },
    deleteUser: { access: 'admin', args: `(id: ${MISSING})` },
    setUserEnabled: { access: 'admin', args: `(id: ${MISSING}, enabled: false)` },
    setUserPassword: { access: 'admin', args: `(id: ${MISSING})` },
    setUserPermissions: { access: 'admin', args: `(id: ${MISSING}, permissions: [])` },
    updateUserPermissions: { access: 'admin', args: `(id: ${MISSING}, permissions: [])` },
    renameUser: { access: 'admin', args: () => `(id: ${MISSING}, username: ${NOBODY()})` },
    deleteUserSessions: { access: 'admin', args: `(id: ${MISSING})` },
    updateSettings: { access: 'admin', args: '(input: {})' },
    sendConfirmationEmail: { access: 'everyone', args: () => `(user: ${NOBODY()})` },
    sendPasswordResetEmail: { access: 'everyone', args: () => `(user: ${NOBODY()})` },
    confirmEmail: { access: 'everyone', args: '(token: "not-a-token")' },
    resetPassword: { access: 'everyone', args: '(token: "not-a-token", password: "matrix password")' },
    testSmtp: { access: 'admin', args: '(input: { hostname: "127.0.0.1", port: 1 })' },
    retryOutboxMessage: { access: 'admin', args: `(id: ${MISSING})` },
    markNotificationsRead: { access: 'signedIn', args: `(ids: [${MISSING}])` },
    markNotificationsUnread: { access: 'signedIn', args: `(ids: [${MISSING}])` },
    deleteNotifications: { access: 'signedIn', args: `(ids: [${MISSING}])` },
    markAllNotificationsRead: { access: 'signedIn' },
    markAllNotificationsUnread: { access: 'signedIn' },
    deleteAllNotifications: { access: 'signedIn' },
    sendNotification: { access: 'admin', args: `(input: { userIds: [${MISSING}], subject: "matrix", body: "nobody gets this" })` },
  },
  subscription: {
    ticks: { access: 'everyone', args: '(intervalMs: 10, count: 1)' },
    // Every signed-in principal's user has at least its sign-in notice to replay.
    notificationAdded: { access: 'signedIn', args: '(after: "0")' },
    notificationsChanged: { access: 'signedIn' },
    apiStats: { access: 'admin', args: '(count: 1)' },
  },
};

type PrincipalName =
  | 'guest'
  | 'user'
  | 'admin'
  | 'root'
  | 'bareApiToken'
  | 'adminApiToken'
  | 'disabledApiToken'
  | 'apiTokenOfDisabledUser';

/** Whom each principal acts as for the matrix: a guest, or a principal with or without admin. */
const ACTS_AS: Record<PrincipalName, 'guest' | 'plain' | 'admin'> = {
  guest: 'guest',
  user: 'plain',
  admin: 'admin',
  root: 'admin',
  bareApiToken: 'plain',
  adminApiToken: 'admin',
  disabledApiToken: 'guest',
  apiTokenOfDisabledUser: 'guest',
};
const PRINCIPALS = Object.keys(ACTS_AS) as PrincipalName[];

function granted(access: Access, principal: PrincipalName): boolean {
  const actsAs = ACTS_AS[principal];
  if (access === 'everyone') return true;
  if (access === 'signedIn') return actsAs !== 'guest';
  return actsAs === 'admin';
}

function schemaFields(): Record<Operation, string[]> {
  const schema = buildSchema();
  const names = (type: GraphQLObjectType | null | undefined) => Object.keys(type?.getFields() ?? {}).sort();
  return {
    query: names(schema.getQueryType()),
    mutation: names(schema.getMutationType()),
    subscription: names(schema.getSubscriptionType()),
  };
}

function documentOf(operation: Operation, field: string): string {
  const schema = buildSchema();
  const root = operation === 'query' ? schema.getQueryType() : operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const definition = root!.getFields()[field]!;
  const selection = isLeafType(getNamedType(definition.type)) ? '' : ' { __typename }';
  const { args } = EXPECTATIONS[operation][field]!;
  return `${operation} { ${field}${typeof args === 'function' ? args() : (args ?? '')}${selection} }`;
}

/** Runs the tasks, at most `limit` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

interface Cell {
  readonly operation: Operation;
  readonly field: string;
  readonly principal: PrincipalName;
}

interface Outcome {
  readonly data: Record<string, unknown> | null | undefined;
  readonly errors: readonly GqlError[] | undefined;
}

describe('the authorization matrix covers the whole schema', () => {
  it('has an expectation for every root field and none for a field that does not exist', () => {
    const fields = schemaFields();
    for (const operation of ['query', 'mutation', 'subscription'] as const) {
      expect(Object.keys(EXPECTATIONS[operation]).sort(), `${operation} fields`).toEqual(fields[operation]);
    }
  });
});

describe.each(MODES)('authorization matrix (%s)', (mode) => {
  let gw: TestGateway;
  const tokens = {} as Record<PrincipalName, string | null>;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    const root = await rootSession(gw, ROOT_PASSWORD);
    // Each credential belongs to a user of its own, so one cell's side effects never reach another principal.
    const [user, admin, bareOwner, adminOwner, disabledOwner, disabledUser] = await Promise.all([
      createSignedInUser(gw, root),
      createSignedInUser(gw, root, { permissions: ['admin'] }),
      createSignedInUser(gw, root, { permissions: ['admin'] }),
      createSignedInUser(gw, root, { permissions: ['admin'] }),
      createSignedInUser(gw, root, { permissions: ['admin'] }),
      createSignedInUser(gw, root, { permissions: ['admin'] }),
    ]);
    const [bare, adminToken, disabledToken, tokenOfDisabledUser] = await Promise.all([
      createApiToken(gw, bareOwner.token, 'bare'),
      createApiToken(gw, adminOwner.token, 'admin', ['admin']),
      createApiToken(gw, disabledOwner.token, 'disabled', ['admin']),
      createApiToken(gw, disabledUser.token, 'of a disabled user', ['admin']),
    ]);
    const disable = async (mutation: string, id: string, token: string) =>
      expect(JSON.stringify(ok(await gql(gw, mutation, { id }, token)))).toContain('"changed":true');
    await disable('mutation($id: ID!) { setApiTokenEnabled(id: $id, enabled: false) { ... on ApiTokenPayload { changed } } }', disabledToken.id, disabledOwner.token);
    await disable('mutation($id: ID!) { setUserEnabled(id: $id, enabled: false) { ... on SetUserEnabledPayload { changed } } }', disabledUser.id, root);
    Object.assign(tokens, {
      guest: null,
      user: user.token,
      admin: admin.token,
      root,
      bareApiToken: bare.token,
      adminApiToken: adminToken.token,
      disabledApiToken: disabledToken.token,
      apiTokenOfDisabledUser: tokenOfDisabledUser.token,
    });
  });
  afterAll(() => gw?.close());

  async function run({ operation, field, principal }: Cell): Promise<Outcome> {
    const document = documentOf(operation, field);
    if (operation === 'subscription') {
      // Subscriptions that never end are judged by their first result.
      const results = await gqlWs(gw, document, {}, tokens[principal], 1);
      return { data: results[0]?.data as Outcome['data'], errors: results.flatMap((result) => result.errors ?? []) };
    }
    const result = await gql(gw, document, {}, tokens[principal]);
    expect(result.status, `${field} as ${principal}`).toBe(200);
    return { data: result.data, errors: result.errors };
  }

  function check(cell: Cell, outcome: Outcome): void {
    const label = `${cell.operation} ${cell.field} as ${cell.principal}`;
    const { access } = EXPECTATIONS[cell.operation][cell.field]!;
    if (granted(access, cell.principal)) {
      expect(outcome.errors ?? [], label).toEqual([]);
      expect(outcome.data?.[cell.field], label).not.toBeUndefined();
      return;
    }
    const guest = ACTS_AS[cell.principal] === 'guest';
    expect(
      outcome.errors?.map((error) => ({ path: error.path, code: error.extensions.code, status: error.extensions.status })),
      label,
    ).toEqual([{ path: [cell.field], code: guest ? 'UNAUTHENTICATED' : 'FORBIDDEN', status: guest ? 401 : 403 }]);
    expect(outcome.data?.[cell.field] ?? null, label).toBeNull();
  }

  it('grants and refuses every root field exactly as specified, for every principal', async () => {
    const cells: Cell[] = [];
    for (const operation of ['query', 'mutation', 'subscription'] as const) {
      for (const field of Object.keys(EXPECTATIONS[operation])) {
        for (const principal of PRINCIPALS) cells.push({ operation, field, principal });
      }
    }
    // Deleting every notification leaves notificationAdded nothing to replay, and signing out ends
    // the shared sessions, so those cells run last, in that order.
    const phase = (cell: Cell) => (cell.field === 'signOut' ? 2 : cell.field === 'deleteAllNotifications' ? 1 : 0);
    const ordered: Cell[] = [];
    const outcomes: Outcome[] = [];
    for (const current of [0, 1, 2]) {
      const due = cells.filter((cell) => phase(cell) === current);
      ordered.push(...due);
      outcomes.push(...(await pool(due.map((cell) => () => run(cell)), 8)));
    }
    ordered.forEach((cell, index) => check(cell, outcomes[index]!));

    // A disabled token and the token of a disabled user are indistinguishable from no token at all.
    const byCell = new Map(ordered.map((cell, index) => [`${cell.field}/${cell.principal}`, outcomes[index]!]));
    const shape = (field: string, outcome: Outcome) => ({
      errors: outcome.errors?.map((error) => [error.path, error.extensions.code, error.message]) ?? [],
      typename: (outcome.data?.[field] as { __typename?: string } | null | undefined)?.__typename ?? null,
    });
    for (const cell of ordered.filter((c) => c.principal === 'guest')) {
      for (const twin of ['disabledApiToken', 'apiTokenOfDisabledUser'] as const) {
        expect(shape(cell.field, byCell.get(`${cell.field}/${twin}`)!), `${cell.field} as ${twin}`).toEqual(
          shape(cell.field, byCell.get(`${cell.field}/guest`)!),
        );
      }
    }
  });

  it('shows User.permissionStates to admins only', async () => {
    const query = graphql(`query ViewerStates { viewer { user { id permissionStates { name enabled } } } }`);
    // The sessions of the matrix may have signed out by now; fresh ones of the same users stand in.
    const root = (await signIn(gw, 'root', ROOT_PASSWORD)).token;
    const fresh: Partial<Record<PrincipalName, string>> = {
      user: (await createSignedInUser(gw, root)).token,
      admin: (await createSignedInUser(gw, root, { permissions: ['admin'] })).token,
      root,
    };
    const outcomes = await Promise.all(
      PRINCIPALS.map(async (principal) => {
        const token = fresh[principal] ?? tokens[principal];
        return [principal, await gql(gw, query, {}, token)] as const;
      }),
    );
    for (const [principal, result] of outcomes) {
      const actsAs = ACTS_AS[principal];
      if (actsAs === 'admin') {
        expect(result.errors, principal).toBeUndefined();
        expect(result.data?.viewer?.user.permissionStates, principal).toEqual([{ name: 'admin', enabled: expect.any(Boolean) }]);
      } else if (actsAs === 'plain') {
        expect(result.errors?.map((error) => [error.path, error.extensions.code]), principal).toEqual([
          [['viewer', 'user', 'permissionStates'], 'FORBIDDEN'],
        ]);
        expect(result.data?.viewer ?? null, principal).toBeNull();
      } else {
        expect(result.errors, principal).toBeUndefined();
        expect(result.data?.viewer, principal).toBeNull();
      }
    }
    const viaUser = await gql(gw, `{ user(id: "1") { permissionStates { name } } }`, {}, fresh.admin);
    expect(ok(await gql(gw, `{ user(id: "1") { permissionStates { name } } }`, {}, root))).toEqual({ user: { permissionStates: [{ name: 'admin' }] } });
    expect(ok(viaUser)).toEqual({ user: { permissionStates: [{ name: 'admin' }] } });
  });
});
