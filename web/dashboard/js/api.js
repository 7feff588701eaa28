// The dashboard's only ways to the gateway: GraphQL over HTTP (POST /graphql) for queries and
// mutations, and one graphql-ws connection (/graphql) for every subscription.
import { createClient } from '../vendor/graphql-ws/client.js';

/** A GraphQL error answer, or a network failure (`code` 'NETWORK'). */
export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The first error of a GraphQL answer as an ApiError. */
function errorOf(errors, status) {
  const first = errors[0] ?? {};
  return new ApiError(first.message ?? 'The request failed', first.extensions?.code ?? 'ERROR', first.extensions?.status ?? status);
}

/**
 * Connection states shown to the user: 'connecting' (first attempt after sign-in), 'live' (the
 * WebSocket is up), 'reconnecting' (it dropped and is being opened again), 'offline' (signed out, the browser is offline, or several attempts in a
 * row failed; attempts go on in the background).
 */
const FAILURES_BEFORE_OFFLINE = 4;

export class Api {
  #token = null;
  #client = null;
  /** Counts the clients created; handlers of a replaced one see a newer number and keep quiet. */
  #generation = 0;
  #failures = 0;
  #state = 'offline';
  #onState;
  #onSignedOut;

  /**
   * @param {{ onState: (state: string) => void, onSignedOut: (message: string) => void }} handlers
   */
  constructor({ onState, onSignedOut }) {
    this.#onState = onState;
    this.#onSignedOut = onSignedOut;
    window.addEventListener('offline', () => this.#set('offline'));
    window.addEventListener('online', () => this.#client && this.#set('reconnecting'));
  }

  get token() {
    return this.#token;
  }

  get state() {
    return this.#state;
  }

  /** Uses `token` for every request from now on (null: none); a new token opens a new connection. */
  setToken(token) {
    if (token === this.#token) return;
    this.#token = token;
    this.#closeClient();
  }

  /** Runs a query or mutation; resolves with `data`, rejects with an ApiError. */
  async request(query, variables = {}) {
    let response;
    try {
      response = await fetch('/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch {
      throw new ApiError('The gateway cannot be reached', 'NETWORK', 0);
    }
    let body;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`The gateway answered ${response.status} without GraphQL`, 'NETWORK', response.status);
    }
    if (body.errors?.length) {
      const error = errorOf(body.errors, response.status);
      if (error.code === 'NOT_AUTHENTICATED' && this.#token) this.#signedOut('Your session has ended. Please sign in again.');
      throw error;
    }
    return body.data;
  }

  /**
   * Starts a subscription; returns its stop function. graphql-ws sends the same `variables` object
   * again whenever it resubscribes after a reconnect, so a caller may update it (a resume point)
   * between pushes and the next subscription starts from there.
   */
  subscribe(query, variables, { next, error }) {
    const client = this.#ensureClient();
    return client.subscribe(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) {
            const failure = errorOf(result.errors, 200);
            if (failure.code === 'NOT_AUTHENTICATED') this.#signedOut('Your session has ended. Please sign in again.');
            error?.(failure);
            return;
          }
          next(result.data);
        },
        error: (failure) => {
          if (Array.isArray(failure)) error?.(errorOf(failure, 200));
          else error?.(new ApiError('The live connection closed', 'NETWORK', 0));
        },
        complete: () => {},
      },
    );
  }

  /** Opens the live connection (done by the first subscription otherwise). */
  connect() {
    this.#ensureClient();
  }

  /** Closes the connection (sign-out). */
  close() {
    this.#token = null;
    this.#closeClient();
  }

  #ensureClient() {
    if (this.#client) return this.#client;
    const token = this.#token;
    const generation = ++this.#generation;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    this.#failures = 0;
    this.#set('connecting');
    const client = createClient({
      url,
      connectionParams: () => (token ? { authorization: `Bearer ${token}` } : {}),
      // Open from sign-in to sign-out, so the indicator tells the truth even between subscriptions.
      lazy: false,
      onNonLazyError: () => {},
      retryAttempts: Number.POSITIVE_INFINITY,
      // Every close is retried except the gateway's "signed out" (4403), handled below.
      shouldRetry: (event) => !(event && event.code === 4403),
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(400 * 2 ** retries, 8000) + Math.random() * 250)),
      keepAlive: 20_000,
      on: {
        connecting: (retrying) => {
          if (generation === this.#generation && this.#state !== 'offline') this.#set(retrying ? 'reconnecting' : 'connecting');
        },
        connected: () => {
          if (generation !== this.#generation) return;
          this.#failures = 0;
          this.#set('live');
        },
        closed: (event) => {
          if (generation !== this.#generation) return;
          if (event && event.code === 4403) {
            this.#signedOut('Your session has ended. Please sign in again.');
            return;
          }
          this.#failures++;
          this.#set(this.#failures >= FAILURES_BEFORE_OFFLINE || !navigator.onLine ? 'offline' : 'reconnecting');
        },
      },
    });
    this.#client = client;
    return client;
  }

  #closeClient() {
    const client = this.#client;
    this.#client = null;
    this.#generation++;
    if (client) void client.dispose();
    this.#set('offline');
  }

  #signedOut(message) {
    if (!this.#token) return;
    this.close();
    this.#onSignedOut(message);
  }

  #set(state) {
    if (state === this.#state) return;
    this.#state = state;
    this.#onState(state);
  }
}
