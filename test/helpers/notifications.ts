import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from '../../src/rpc-facade/graphql.ts';
import { ErrorFields, gql, graphqlUrlOf, graphqlWsUrlOf, member, ok, type Endpoint, type GqlError } from './graphql.ts';

/** What the notification suites share: sending, reading the inbox, and subscribers over graphql-ws and SSE. */

export const SendNotification = graphql(
  `
    mutation SendNotification($input: SendNotificationInput!) {
      sendNotification(input: $input) {
        __typename
        ... on SendNotificationPayload { recipients unknownUserIds notificationId }
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

export interface Sent {
  readonly recipients: number;
  readonly unknownUserIds: readonly string[];
  readonly notificationId: string | null;
}

/** Sends a notification as `adminToken`; throws unless it was accepted. */
export async function sendNotification(
  endpoint: Endpoint,
  adminToken: string,
  userIds: readonly string[],
  subject = 'Hello',
  body = 'A notification for tests',
  expiresAt?: string,
): Promise<Sent> {
  const result = ok(await gql(endpoint, SendNotification, { input: { userIds: [...userIds], subject, body, expiresAt } }, adminToken));
  const { recipients, unknownUserIds, notificationId } = member(result.sendNotification, 'SendNotificationPayload');
  return { recipients, unknownUserIds, notificationId };
}

export const Inbox = graphql(`
  query Inbox($first: Int, $filter: NotificationFilter) {
    notifications(first: $first, filter: $filter) {
      totalCount
      unreadCount
      edges { node { id subject body read createdAt expiresAt } }
    }
  }
`);

export interface InboxItem {
  readonly id: string;
  readonly subject: string;
  readonly body: string;
  readonly read: boolean;
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

export async function inbox(
  endpoint: Endpoint,
  token: string,
  filter?: { read?: boolean; id?: string },
): Promise<{ totalCount: number; unreadCount: number; items: InboxItem[] }> {
  const { notifications } = ok(await gql(endpoint, Inbox, { first: 100, filter }, token));
  return { totalCount: notifications.totalCount, unreadCount: notifications.unreadCount, items: notifications.edges.map(({ node }) => node) };
}

/** The id of the newest notification the user has ("0" when none): a resume point before what a test sends. */
export async function latestId(endpoint: Endpoint, token: string): Promise<string> {
  return (await inbox(endpoint, token)).items[0]?.id ?? '0';
}

export const NOTIFICATION_ADDED = 'subscription Added($after: ID) { notificationAdded(after: $after) { id subject body read createdAt } }';
export const NOTIFICATIONS_CHANGED = 'subscription Changed { notificationsChanged { unreadCount } }';

export interface Subscriber<T> {
  /** The `data` of each event, in order. */
  readonly events: T[];
  readonly errors: readonly GqlError[][];
  /** Resolves with the close code when the socket closes. */
  readonly closed: Promise<number>;
  readonly completed: boolean;
  /** Waits until `count` events arrived (default 5 s). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  close(): Promise<void>;
}

async function until(probe: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const started = Date.now();
  while (!probe()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One subscription over its own graphql-ws connection (the token in `connectionParams`). */
export async function wsSubscribe<T = Record<string, unknown>>(
  endpoint: Endpoint,
  query: string,
  variables: Record<string, unknown>,
  token: string | null,
): Promise<Subscriber<T>> {
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const client: Client = createClient({
    url: graphqlWsUrlOf(endpoint),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: {
      connected: () => opened(),
      closed: (event) => resolveClosed((event as { code?: number }).code ?? 0),
    },
  });
  const events: T[] = [];
  const errors: GqlError[][] = [];
  let completed = false;
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) errors.push(result.errors as unknown as GqlError[]);
        if (result.data) events.push(result.data as T);
      },
      error: (error) => errors.push(Array.isArray(error) ? (error as GqlError[]) : [{ message: String(error), extensions: { code: 'CLOSED', status: 0 } }]),
      complete: () => (completed = true),
    },
  );
  await open;
  return {
    events,
    errors,
    closed,
    get completed() {
      return completed;
    },
    async waitFor(count, timeoutMs = 5000) {
      await until(() => events.length >= count || errors.length > 0, timeoutMs, () => `${count} events, got ${JSON.stringify(events)}`);
      if (errors.length > 0) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
      return events.slice(0, count);
    },
    async close() {
      stop();
      await client.dispose();
    },
  };
}

/** One subscription over GraphQL over SSE (Yoga's distinct-connections mode), read from a fetch stream. */
export async function sseSubscribe<T = Record<string, unknown>>(
  endpoint: Endpoint,
  query: string,
  variables: Record<string, unknown>,
  token: string | null,
): Promise<Subscriber<T> & { readonly status: number }> {
  const abort = new AbortController();
  const response = await fetch(graphqlUrlOf(endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const events: T[] = [];
  const errors: GqlError[][] = [];
  let completed = false;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  void (async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: ?(\w+)/m.exec(block)?.[1];
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          if (event === 'complete') completed = true;
          if (event !== 'next' || !data) continue;
          const result = JSON.parse(data) as { data?: T; errors?: GqlError[] };
          if (result.errors?.length) errors.push(result.errors);
          if (result.data) events.push(result.data);
        }
      }
    } catch {
      // aborted or cut by the server
    }
    resolveClosed(0);
  })();
  return {
    status: response.status,
    events,
    errors,
    closed,
    get completed() {
      return completed;
    },
    async waitFor(count, timeoutMs = 5000) {
      await until(() => events.length >= count || errors.length > 0, timeoutMs, () => `${count} events, got ${JSON.stringify(events)}`);
      if (errors.length > 0) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
      return events.slice(0, count);
    },
    async close() {
      abort.abort();
      await closed;
    },
  };
}
