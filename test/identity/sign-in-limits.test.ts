import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createUser, ERROR_FIELDS, gql, ok, signIn, type CreatedUser, type TypedResult } from '../helpers/graphql.ts';
import { startTwoNodes, type TwoNodes } from '../helpers/cluster.ts';
import type { SpawnedGateway } from '../helpers/spawn.ts';
import { httpCall, mapLimit, V1_SUBPROTOCOL } from '../helpers/v1.ts';

const SIGN_IN = `mutation($input: SignInInput!) {
  signIn(input: $input) { __typename ... on SignInPayload { token } ... on RateLimitedError { retryAfterSeconds } ${ERROR_FIELDS} }
}`;
const SESSION_ADDRESSES = '{ viewer { sessions { current remoteAddress } } }';
const UPDATE_SETTINGS = `mutation($input: SettingsInput!) { updateSettings(input: $input) { __typename ${ERROR_FIELDS} } }`;

type Headers = Record<string, string>;
type SignInAnswer = TypedResult & { token?: string; retryAfterSeconds?: number };

/** What a sign-in came to, the same over both faces: signed in, refused (401) or limited (with its wait). */
type Verdict = { kind: 'signed-in'; token: string } | { kind: 'refused' } | { kind: 'limited'; waitSeconds: number };

interface Node {
  readonly url: string;
}

async function graphqlSignIn(node: Node, username: string, password: string, headers: Headers = {}): Promise<Verdict> {
  const response = await fetch(`${node.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: SIGN_IN, variables: { input: { username, password } } }),
  });
  const body = (await response.json()) as { data?: { signIn: SignInAnswer }; errors?: unknown };
  const answer = body.data?.signIn;
  if (!answer) throw new Error(`sign-in failed outright: ${JSON.stringify(body)}`);
  if (answer.__typename === 'SignInPayload') return { kind: 'signed-in', token: answer.token! };
  if (answer.__typename === 'NotAuthenticatedError') return { kind: 'refused' };
  expect(answer).toMatchObject({ __typename: 'RateLimitedError', code: 'RATE_LIMITED', status: 429 });
  return { kind: 'limited', waitSeconds: answer.retryAfterSeconds! };
}

async function v1SignIn(node: Node, username: string, password: string, headers: Headers = {}): Promise<Verdict> {
  const answer = await httpCall(node, '/v1/session/signin', [{ username, password }], { headers });
  if (answer.status === 200) return { kind: 'signed-in', token: (answer.data as { token: string }).token };
  if (answer.status === 401) return { kind: 'refused' };
  expect(answer.status).toBe(-32802);
  return { kind: 'limited', waitSeconds: answer.meta.retry_after as number };
}

const FACES = { graphql: graphqlSignIn, v1: v1SignIn } as const;

/** X-Forwarded-For as a proxy in front of the gateway would send it. */
const from = (address: string): Headers => ({ 'x-forwarded-for': address });

let lastAddress = 0;
/** A client address no other test uses. */
function newAddress(): string {
  lastAddress++;
  return `198.51.${Math.floor(lastAddress / 250)}.${(lastAddress % 250) + 1}`;
}

function tally(verdicts: readonly Verdict[]): Record<Verdict['kind'], number> {
  const counts = { 'signed-in': 0, refused: 0, limited: 0 };
  for (const verdict of verdicts) counts[verdict.kind]++;
  return counts;
}

async function sessionAddresses(node: Node, token: string): Promise<string[]> {
  const result = ok(await gql<{ viewer: { sessions: { current: boolean; remoteAddress: string }[] } }>(node, SESSION_ADDRESSES, {}, token));
  return result.viewer.sessions.filter((session) => session.current).map((session) => session.remoteAddress);
}

/** A sign-in over graphql-ws, on a connection whose upgrade carried `headers`. */
async function graphqlWsSignIn(node: Node, username: string, password: string, headers: Headers): Promise<string> {
  const client = createWsClient({
    url: `${node.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers });
      }
    },
    retryAttempts: 0,
    lazy: true,
  });
  try {
    for await (const result of client.iterate<{ signIn: SignInAnswer }>({ query: SIGN_IN, variables: { input: { username, password } } })) {
      const answer = result.data?.signIn;
      if (answer?.__typename !== 'SignInPayload') throw new Error(`graphql-ws sign-in failed: ${JSON.stringify(result)}`);
      return answer.token!;
    }
    throw new Error('graphql-ws sign-in gave no result');
  } finally {
    await client.dispose();
  }
}

/** A sign-in over a v1 WebSocket whose upgrade carried `headers`. */
async function v1WsSignIn(node: Node, username: string, password: string, headers: Headers): Promise<string> {
  const ws = new WebSocket(`${node.url.replace(/^http/, 'ws')}/api/`, [V1_SUBPROTOCOL], { headers });
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answer = new Promise<{ result?: { status: number; data: { token: string } } }>((resolve) =>
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { id?: number };
        if (frame.id === 1) resolve(frame as never);
      }),
    );
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: '/v1/session/signin', params: [{ username, password }] }));
    const { result } = await answer;
    if (result?.status !== 200) throw new Error(`v1 WebSocket sign-in failed: ${JSON.stringify(result)}`);
    return result.data.token;
  } finally {
    ws.close();
  }
}

describe.each(MODES)('sign-in limits (%s)', (mode) => {
  /** Behind a proxy it trusts (the tests' own address), so tests can sign in from any client address. */
  let gw: TestGateway;
  /** A second node of the same deployment, answering no sign-in sooner than 300 ms. */
  let slow: TestGateway;
  /** A node of the same deployment that trusts no proxy. */
  let untrusted: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode, { env: { TRUST_PROXY: '127.0.0.1' } });
    [slow, untrusted] = await Promise.all([
      startTestGateway(mode, { shareWith: gw, env: { TRUST_PROXY: '127.0.0.0/8, ::1', SIGNIN_MIN_DURATION_MS: '300' } }),
      startTestGateway(mode, { shareWith: gw }),
    ]);
    root = (await signIn(gw, 'root', ROOT_PASSWORD)).token;
  });
  afterAll(async () => {
    await Promise.all([slow?.close(), untrusted?.close()]);
    await gw?.close();
  });

  async function updateSettings(input: Record<string, unknown>): Promise<void> {
    const answer = ok(await gql<{ updateSettings: TypedResult }>(gw, UPDATE_SETTINGS, { input }, root)).updateSettings;
    expect(answer.__typename).toBe('SettingsPayload');
  }

  /** Runs `body` with some settings changed, then puts the defaults back. */
  async function withSettings(input: Record<string, number>, body: () => Promise<void>): Promise<void> {
    await updateSettings(input);
    try {
      await body();
    } finally {
      await updateSettings({
        signinIpLimit: 1000,
        signinIpFailureLimit: 100,
        signinIpWindowSeconds: 900,
        signinAccountLimit: 10,
        signinAccountLockoutSeconds: 60,
        signinAccountMaxLockoutSeconds: 900,
        signinAccountWindowSeconds: 43_200,
      });
    }
  }

  const users = (count: number): Promise<CreatedUser[]> => mapLimit(Array.from({ length: count }), 8, () => createUser(gw, root));

  it('serves 200 colleagues signing in from one address within a minute, typos included, on the defaults', async () => {
    const office = from(newAddress());
    const colleagues = await users(200);
    const started = Date.now();
    const typos = await mapLimit(colleagues.slice(0, 20), 10, (user, i) => FACES[i % 2 ? 'v1' : 'graphql'](gw, user.name, `${user.password}x`, office));
    const verdicts = await mapLimit(colleagues, 10, (user, i) => FACES[i % 2 ? 'v1' : 'graphql'](gw, user.name, user.password, office));
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(tally(typos)).toEqual({ 'signed-in': 0, refused: 20, limited: 0 });
    expect(tally(verdicts)).toEqual({ 'signed-in': 200, refused: 0, limited: 0 });
  });

  it.each(Object.keys(FACES) as (keyof typeof FACES)[])('stops password spraying from one address, with the wait (%s)', async (face) => {
    const signInAs = FACES[face];
    const [sprayed, other] = await Promise.all([users(6), users(1)]);
    const sprayer = from(newAddress());
    await withSettings({ signinIpFailureLimit: 5, signinIpWindowSeconds: 600 }, async () => {
      const guesses = [];
      for (const user of sprayed.slice(0, 5)) guesses.push(await signInAs(gw, user.name, 'Summer2026!', sprayer));
      expect(tally(guesses)).toEqual({ 'signed-in': 0, refused: 5, limited: 0 });
      // Past the limit nothing from that address is judged, not even the right password.
      for (const password of ['Summer2026!', sprayed[5]!.password]) {
        const limited = await signInAs(gw, sprayed[5]!.name, password, sprayer);
        expect(limited.kind).toBe('limited');
        expect(limited.kind === 'limited' && limited.waitSeconds).toBeGreaterThan(0);
        expect(limited.kind === 'limited' && limited.waitSeconds).toBeLessThanOrEqual(600);
      }
      // Other addresses, and the sprayed accounts themselves, are not affected.
      expect((await signInAs(gw, other[0]!.name, other[0]!.password, from(newAddress()))).kind).toBe('signed-in');
      expect((await signInAs(gw, sprayed[0]!.name, sprayed[0]!.password, from(newAddress()))).kind).toBe('signed-in');
    });
  });

  it.each(Object.keys(FACES) as (keyof typeof FACES)[])(
    'locks an account after its failures for a time that doubles; a success forgets them (%s)',
    async (face) => {
      const signInAs = FACES[face];
      const [victim, bystander] = await users(2);
      // Guesses from many addresses: the account limit does not care where they come from.
      const guess = () => signInAs(gw, victim!.name, 'guess', from(newAddress()));
      await withSettings({ signinAccountLimit: 3, signinAccountLockoutSeconds: 1, signinAccountMaxLockoutSeconds: 2 }, async () => {
        expect(tally([await guess(), await guess(), await guess()])).toEqual({ 'signed-in': 0, refused: 3, limited: 0 });
        expect(await signInAs(gw, victim!.name, victim!.password, from(newAddress()))).toEqual({ kind: 'limited', waitSeconds: 1 });
        expect(await signInAs(gw, victim!.name.toUpperCase(), 'guess', from(newAddress()))).toEqual({ kind: 'limited', waitSeconds: 1 });
        expect((await signInAs(gw, bystander!.name, bystander!.password, from(newAddress()))).kind).toBe('signed-in');

        await new Promise((resolve) => setTimeout(resolve, 1100));
        expect(tally([await guess(), await guess(), await guess()])).toEqual({ 'signed-in': 0, refused: 3, limited: 0 });
        // The second lockout lasts twice as long (and no longer than the longest).
        expect(await guess()).toEqual({ kind: 'limited', waitSeconds: 2 });

        await new Promise((resolve) => setTimeout(resolve, 2100));
        expect((await signInAs(gw, victim!.name, victim!.password, from(newAddress()))).kind).toBe('signed-in');
        // The success forgot the failures and the lockouts: three more guesses, then the first lockout again.
        expect(tally([await guess(), await guess(), await guess()])).toEqual({ 'signed-in': 0, refused: 3, limited: 0 });
        expect(await guess()).toEqual({ kind: 'limited', waitSeconds: 1 });
      });
    },
  );

  it('refuses an account over a lowered limit for no longer than the longest lockout', async () => {
    const [user] = await users(1);
    const guess = () => v1SignIn(gw, user!.name, 'guess', from(newAddress()));
    await withSettings({ signinAccountLimit: 5 }, async () => {
      expect(tally([await guess(), await guess(), await guess(), await guess()])).toEqual({ 'signed-in': 0, refused: 4, limited: 0 });
      await updateSettings({ signinAccountLimit: 2, signinAccountMaxLockoutSeconds: 1 });
      expect(await graphqlSignIn(gw, user!.name, user!.password, from(newAddress()))).toEqual({ kind: 'limited', waitSeconds: 1 });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await graphqlSignIn(gw, user!.name, user!.password, from(newAddress()))).kind).toBe('signed-in');
    });
  });

  it('keeps every limit a v1 setting as well, under its snake_case name', async () => {
    const read = await httpCall(gw, '/v1/admin/settings/read', [], { token: root });
    expect(read.data).toMatchObject({
      signin_ip_limit: 1000,
      signin_ip_failure_limit: 100,
      signin_ip_window_seconds: 900,
      signin_account_limit: 10,
      signin_account_lockout_seconds: 60,
      signin_account_max_lockout_seconds: 900,
      signin_account_window_seconds: 43_200,
    });
    const refused = await httpCall(gw, '/v1/admin/settings/update', [{ signin_account_lockout_seconds: 0 }], { token: root });
    expect(refused).toMatchObject({ status: 400, statusText: 'Setting "signin_account_lockout_seconds" must be an integer from 1 to 86400' });
    const [user] = await users(1);
    await withSettings({}, async () => {
      expect((await httpCall(gw, '/v1/admin/settings/update', [{ signin_account_limit: 1, signin_account_lockout_seconds: 30 }], { token: root })).status).toBe(200);
      expect(await v1SignIn(gw, user!.name, 'guess', from(newAddress()))).toEqual({ kind: 'refused' });
      expect(await v1SignIn(gw, user!.name, user!.password, from(newAddress()))).toEqual({ kind: 'limited', waitSeconds: 30 });
    });
  });

  it('answers exactly 10 of 40 parallel wrong passwords against one account with 401, on two nodes, over both faces', async () => {
    const [victim] = await users(1);
    const client = from(newAddress());
    const verdicts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => FACES[i % 2 ? 'v1' : 'graphql'](i % 4 < 2 ? gw : slow, victim!.name, 'wrong password', client)),
    );
    expect(tally(verdicts)).toEqual({ 'signed-in': 0, refused: 10, limited: 30 });
    for (const verdict of verdicts) if (verdict.kind === 'limited') expect(verdict.waitSeconds).toBeGreaterThan(0);
  });

  it('limits attempts per real client behind a trusted proxy, and keeps the real address with the session', async () => {
    const crowd = await users(4);
    const [first, second] = [newAddress(), newAddress()];
    await withSettings({ signinIpLimit: 3 }, async () => {
      for (const user of crowd.slice(0, 3)) expect((await graphqlSignIn(gw, user.name, user.password, from(first))).kind).toBe('signed-in');
      expect((await v1SignIn(gw, crowd[3]!.name, crowd[3]!.password, from(first))).kind).toBe('limited');
      // What the client itself wrote in front of the proxy's entry does not make it somebody else.
      expect((await v1SignIn(gw, crowd[3]!.name, crowd[3]!.password, from(`${newAddress()}, ${first}`))).kind).toBe('limited');
      const signedIn = await v1SignIn(gw, crowd[3]!.name, crowd[3]!.password, from(`6.6.6.6, ${second}`));
      expect(signedIn.kind).toBe('signed-in');
      expect(await sessionAddresses(gw, (signedIn as { token: string }).token)).toEqual([second]);
    });
    const user = crowd[0]!;
    const viaForwarded = await graphqlSignIn(gw, user.name, user.password, { forwarded: 'for="[2001:DB8::7]:4711";proto=https' });
    expect(await sessionAddresses(gw, (viaForwarded as { token: string }).token)).toEqual(['2001:db8::7']);
    const mapped = await v1SignIn(gw, user.name, user.password, from('::ffff:203.0.113.77'));
    expect(await sessionAddresses(gw, (mapped as { token: string }).token)).toEqual(['203.0.113.77']);
    // WebSocket upgrades go through the same proxies: the address comes from their headers too.
    expect(await sessionAddresses(gw, await graphqlWsSignIn(gw, user.name, user.password, from('203.0.113.78')))).toEqual(['203.0.113.78']);
    expect(await sessionAddresses(gw, await v1WsSignIn(gw, user.name, user.password, from('203.0.113.79')))).toEqual(['203.0.113.79']);
  });

  it('ignores forwarding headers from a peer it does not trust', async () => {
    const [user] = await users(1);
    const spoofed = await graphqlSignIn(untrusted, user!.name, user!.password, { ...from('203.0.113.80'), forwarded: 'for=203.0.113.80' });
    expect(await sessionAddresses(gw, (spoofed as { token: string }).token)).toEqual(['127.0.0.1']);
    expect(await sessionAddresses(gw, await v1WsSignIn(untrusted, user!.name, user!.password, from('203.0.113.81')))).toEqual(['127.0.0.1']);
    await withSettings({ signinIpFailureLimit: 3 }, async () => {
      // A new spoofed address for every guess: all of them are 127.0.0.1's failures all the same.
      const guesses = [];
      for (let i = 0; i < 4; i++) guesses.push(await v1SignIn(untrusted, user!.name, 'guess', from(newAddress())));
      expect(tally(guesses)).toEqual({ 'signed-in': 0, refused: 3, limited: 1 });
    });
  });

  it('answers every sign-in after the same minimum time, without holding up the others', async () => {
    const [user, disabled] = await users(2);
    const disabling = await gql(gw, 'mutation($id: ID!) { setUserEnabled(id: $id, enabled: false) { __typename } }', { id: disabled!.id }, root);
    expect(ok(disabling)).toEqual({ setUserEnabled: { __typename: 'SetUserEnabledPayload' } });
    const timed = async (attempt: () => Promise<Verdict>) => {
      const started = performance.now();
      const verdict = await attempt();
      return { verdict, ms: performance.now() - started };
    };
    const limitedClient = from(newAddress());
    await withSettings({ signinIpFailureLimit: 1 }, async () => {
      await graphqlSignIn(slow, user!.name, 'wrong', limitedClient);
      const answers = await Promise.all([
        timed(() => graphqlSignIn(slow, user!.name, user!.password, from(newAddress()))),
        timed(() => v1SignIn(slow, user!.name, 'wrong', from(newAddress()))),
        timed(() => graphqlSignIn(slow, `nobody-${user!.name}`, 'whatever', from(newAddress()))),
        timed(() => v1SignIn(slow, disabled!.name, disabled!.password, from(newAddress()))),
        timed(() => graphqlSignIn(slow, user!.name, user!.password, limitedClient)),
      ]);
      expect(answers.map((answer) => answer.verdict.kind)).toEqual(['signed-in', 'refused', 'refused', 'refused', 'limited']);
      for (const { ms } of answers) expect(ms).toBeGreaterThanOrEqual(299);
      // Waited side by side (a timer, not a busy loop): five answers in far less than five times the wait.
      expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(1000);
    });
  });
});

describe('sign-in limits across gateway processes (production: PostgreSQL + Redis)', () => {
  let nodes: TwoNodes | undefined;
  let a: SpawnedGateway | undefined;
  let b: SpawnedGateway | undefined;
  let root: string;

  beforeAll(async () => {
    nodes = await startTwoNodes({ TRUST_PROXY: '1' });
    ({ a, b } = nodes);
    root = (await signIn(a, 'root', ROOT_PASSWORD)).token;
  });
  afterAll(async () => {
    for (const result of (await nodes?.stop()) ?? []) expect(result.code).toBe(0);
  });

  it('shares the counts: the limits hold across both nodes', async () => {
    const answer = ok(await gql<{ updateSettings: TypedResult }>(a!, UPDATE_SETTINGS, { input: { signinAccountLimit: 5, signinIpFailureLimit: 8 } }, root));
    expect(answer.updateSettings.__typename).toBe('SettingsPayload');
    const [victim, sprayed] = await Promise.all([createUser(a!, root), createUser(a!, root)]);
    const parallel = await Promise.all(
      Array.from({ length: 20 }, (_, i) => FACES[i % 2 ? 'v1' : 'graphql'](i % 4 < 2 ? a! : b!, victim.name, 'wrong password', from(newAddress()))),
    );
    expect(tally(parallel)).toEqual({ 'signed-in': 0, refused: 5, limited: 15 });
    // Failures of one address on either node add up.
    const client = from(newAddress());
    const guesses = [];
    for (let i = 0; i < 9; i++) guesses.push(await graphqlSignIn(i % 2 ? a! : b!, sprayed.name, `guess ${i}`, client));
    expect(tally(guesses)).toEqual({ 'signed-in': 0, refused: 5, limited: 4 });
  });
});
