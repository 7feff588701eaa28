import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { createClient, NetworkError } from 'graphql-http';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql, type AnyTypedDocument, type ResultOf, type VariablesOf } from '../../src/rpc-facade/graphql.ts';

/** A GraphQL error as the gateway sends it: every one carries a code and an HTTP-like status. */
export interface GqlError {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions: { readonly code: string; readonly status: number; readonly [key: string]: unknown };
}

export interface GqlResult<T> {
  /** The HTTP status of the answer. */
  readonly status: number;
  readonly data: T | null | undefined;
  readonly errors: readonly GqlError[] | undefined;
}

/** Anything with a GraphQL endpoint: a test gateway, a spawned one, or the URL itself. */
export type Endpoint = string | { readonly graphqlUrl: string } | { readonly url: string };

export function graphqlUrlOf(endpoint: Endpoint): string {
  if (typeof endpoint === 'string') return endpoint;
  return 'graphqlUrl' in endpoint ? endpoint.graphqlUrl : `${endpoint.url}/graphql`;
}

export function bearer(token: string | null | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Runs one operation through the `graphql-http` client. Refusals the client treats as network
 * errors (4xx answers) come back as results too, so tests can inspect them. A 5xx answer or an
 * INTERNAL_SERVER_ERROR is never an expected outcome here: it throws.
 *
 * A `graphql()` document types its variables and data; plain text is for documents built at run
 * time (malformed ones, say), whose data is untyped.
 */
export async function gql<D extends AnyTypedDocument>(
  endpoint: Endpoint,
  document: D,
  variables: VariablesOf<D>,
  token?: string | null,
): Promise<GqlResult<ResultOf<D>>>;
export async function gql<T = Record<string, unknown>>(
  endpoint: Endpoint,
  query: string,
  variables?: Record<string, unknown>,
  token?: string | null,
): Promise<GqlResult<T>>;
export async function gql(
  endpoint: Endpoint,
  document: AnyTypedDocument | string,
  variables: unknown = {},
  token?: string | null,
): Promise<GqlResult<unknown>> {
  const query = typeof document === 'string' ? document : print(document);
  let status = 200;
  const client = createClient({
    url: graphqlUrlOf(endpoint),
    headers: bearer(token),
    shouldRetry: async () => false,
    fetchFn: async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await fetch(input, init);
      status = response.status;
      return response;
    },
  });
  let body: { data?: unknown; errors?: GqlError[] };
  try {
    body = await new Promise((resolve, reject) => {
      let last: unknown;
      // The overloads type the variables.
      client.subscribe({ query, variables: variables as Record<string, unknown> }, { next: (value) => (last = value), error: reject, complete: () => resolve(last as typeof body) });
    });
  } catch (error) {
    const response = error instanceof NetworkError ? (error.response as Response | undefined) : undefined;
    if (!response) throw error;
    const text = await response.text();
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`${response.status} answer is not JSON: ${text.slice(0, 300)}`, { cause: error });
    }
  } finally {
    client.dispose();
  }
  const result = { status, data: body.data, errors: body.errors };
  assertNoServerError(result);
  return result;
}

/** Fails on anything that looks like a server fault rather than a refusal. */
export function assertNoServerError(result: { status: number; errors?: readonly GqlError[] | undefined }): void {
  const internal = result.errors?.find((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR' || error.message === 'Unexpected error.');
  if (result.status >= 500 || internal) {
    throw new Error(`the gateway answered with a server error (${result.status}): ${JSON.stringify(result.errors)}`);
  }
}

/** Data of an answer that must have succeeded without any error. */
export function ok<T>(result: GqlResult<T>): T {
  if (result.errors?.length || !result.data) {
    throw new Error(`expected success, got ${result.status}: ${JSON.stringify(result.errors ?? result.data)}`);
  }
  return result.data;
}

/** A username no other test uses (3–64 characters of a-z, 0-9 and "_.@+-"). */
export function uniqueUsername(prefix = 'u'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
}

/** The union members every mutation result is asserted against. */
export interface TypedResult {
  readonly __typename: string;
  readonly message?: string;
  readonly code?: string;
  readonly status?: number;
}

/** The fields of the `Error` interface, unmasked: tests assert them next to the payload's. */
export const ErrorFields = graphql(`
  fragment ErrorFields on Error @_unmask { message code status }
`);

/** The same selection for documents written as plain text. */
export const ERROR_FIELDS = `... on Error ${print(ErrorFields).replace(/^[^{]*/, '')}`;

/** The member `typename` of a result union; throws, showing what came instead, when it is another. */
export function member<T extends { readonly __typename?: string }, N extends NonNullable<T['__typename']>>(
  value: T,
  typename: N,
): Extract<T, { readonly __typename?: N }> {
  if (value.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(value)}`);
  return value as Extract<T, { readonly __typename?: N }>;
}

export interface SignedIn {
  readonly token: string;
  readonly userId: string;
  readonly permissions: string[];
}

const SignIn = graphql(
  `
    mutation SignIn($input: SignInInput!) {
      signIn(input: $input) {
        __typename
        ... on SignInPayload { token viewer { user { id } permissions } }
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

/** Signs in and returns the session token; throws unless it worked. */
export async function signIn(endpoint: Endpoint, username: string, password: string): Promise<SignedIn> {
  const payload = member(ok(await gql(endpoint, SignIn, { input: { username, password } })).signIn, 'SignInPayload');
  return { token: payload.token, userId: payload.viewer.user.id, permissions: payload.viewer.permissions };
}

const LiftSignInLimit = graphql(`mutation LiftSignInLimit { updateSettings(input: { signinIpLimit: 1000000 }) { __typename } }`);

/**
 * Signs root in and lifts the per-address sign-in limit, which every request from 127.0.0.1
 * shares: suites sign in far more often than a person would.
 */
export async function rootSession(endpoint: Endpoint, rootPassword: string): Promise<string> {
  const { token } = await signIn(endpoint, 'root', rootPassword);
  member(ok(await gql(endpoint, LiftSignInLimit, {}, token)).updateSettings, 'SettingsPayload');
  return token;
}

export interface CreateUserFields {
  readonly username?: string;
  readonly password?: string;
  readonly enabled?: boolean;
  readonly permissions?: readonly string[];
  readonly email?: string;
  readonly telegramName?: string;
}

export interface CreatedUser {
  readonly id: string;
  readonly name: string;
  readonly password: string;
}

const CreateUser = graphql(
  `
    mutation CreateUser($input: CreateUserInput!) {
      createUser(input: $input) { __typename ... on UserWithPasswordPayload { password user { id name } } ...ErrorFields }
    }
  `,
  [ErrorFields],
);

/** Creates a user through `createUser` (a unique name unless given); throws unless it worked. */
export async function createUser(endpoint: Endpoint, adminToken: string, fields: CreateUserFields = {}): Promise<CreatedUser> {
  const input = {
    ...fields,
    username: fields.username ?? uniqueUsername(),
    permissions: fields.permissions?.map((name) => ({ name, enabled: true })),
  };
  const payload = member(ok(await gql(endpoint, CreateUser, { input }, adminToken)).createUser, 'UserWithPasswordPayload');
  return { id: payload.user.id, name: payload.user.name, password: payload.password };
}

/** A new user, signed in. */
export async function createSignedInUser(
  endpoint: Endpoint,
  adminToken: string,
  fields: CreateUserFields = {},
): Promise<CreatedUser & { token: string }> {
  const user = await createUser(endpoint, adminToken, fields);
  const { token } = await signIn(endpoint, user.name, user.password);
  return { ...user, token };
}

export interface CreatedApiToken {
  readonly id: string;
  readonly token: string;
}

const CreateApiToken = graphql(
  `
    mutation CreateApiToken($name: String!) {
      createApiToken(name: $name) { __typename ... on CreateApiTokenPayload { token apiToken { id } } ...ErrorFields }
    }
  `,
  [ErrorFields],
);

const GrantToToken = graphql(
  `
    mutation GrantToToken($id: ID!, $permissions: [PermissionInput!]!) {
      updateApiTokenPermissions(id: $id, permissions: $permissions) { __typename ...ErrorFields }
    }
  `,
  [ErrorFields],
);

/** Creates an API token of the caller, optionally with permissions switched on; throws unless it worked. */
export async function createApiToken(
  endpoint: Endpoint,
  ownerToken: string,
  name = uniqueUsername('token'),
  permissions: readonly string[] = [],
): Promise<CreatedApiToken> {
  const payload = member(ok(await gql(endpoint, CreateApiToken, { name }, ownerToken)).createApiToken, 'CreateApiTokenPayload');
  if (permissions.length > 0) {
    const grants = permissions.map((name) => ({ name, enabled: true }));
    member(ok(await gql(endpoint, GrantToToken, { id: payload.apiToken.id, permissions: grants }, ownerToken)).updateApiTokenPermissions, 'ApiTokenPayload');
  }
  return { id: payload.apiToken.id, token: payload.token };
}

const ViewerOf = graphql(`query ViewerOf { viewer { user { id } permissions } }`);

/** The viewer's user id and permissions, or null for a guest. */
export async function viewerOf(endpoint: Endpoint, token: string | null): Promise<{ id: string; permissions: string[] } | null> {
  const { viewer } = ok(await gql(endpoint, ViewerOf, {}, token));
  return viewer ? { id: viewer.user.id, permissions: viewer.permissions } : null;
}

/** Polls `probe` every `intervalMs` until it returns true; resolves with the time it took, or throws after `timeoutMs`. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs = 1000, intervalMs = 50): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started >= timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The type of a typed document's only root field. */
export type OnlyField<D> = ResultOf<D>[keyof ResultOf<D>];

/**
 * The only root field of an answer that must have data (mutations here select one field each).
 * Typed documents give its type; `K` is never given, so an explicit `only<T>` picks the untyped form.
 */
export function only<R, K extends keyof R>(result: GqlResult<R>): R[K];
export function only<T extends TypedResult = TypedResult & Record<string, unknown>>(result: GqlResult<Record<string, unknown>>): T;
export function only(result: GqlResult<unknown>): unknown {
  const data = ok(result);
  const values = typeof data === 'object' && data !== null ? Object.entries(data) : [];
  if (values.length !== 1) throw new Error(`expected one root field, got ${JSON.stringify(data)}`);
  return values[0]![1];
}

export function graphqlWsUrlOf(endpoint: Endpoint): string {
  return graphqlUrlOf(endpoint).replace(/^http/, 'ws');
}

/**
 * Runs one operation over graphql-ws (the token in `connectionParams`) until it completes, or
 * until `limit` results came (for subscriptions that never end), and returns the results; an
 * operation the server refuses outright comes back as one result with errors.
 */
export async function gqlWs<T = Record<string, unknown>>(
  endpoint: Endpoint,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string | null,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ data?: T | null; errors?: readonly GqlError[] }[]> {
  const client = createWsClient({
    url: graphqlWsUrlOf(endpoint),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  const results: { data?: T | null; errors?: readonly GqlError[] }[] = [];
  try {
    for await (const result of client.iterate<T>({ query, variables })) {
      results.push(result as (typeof results)[number]);
      if (results.length >= limit) break;
    }
  } catch (error) {
    if (!Array.isArray(error)) throw error;
    results.push({ errors: error as GqlError[] });
  } finally {
    await client.dispose();
  }
  return results;
}
