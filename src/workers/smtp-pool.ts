import { Readable } from 'node:stream';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { describeSmtpError, openSmtpConnection, smtpErrorInfo, smtpServerKey, type SmtpServer, type SmtpTimeouts } from '../domain/smtp.ts';

export interface SendRequest {
  readonly server: SmtpServer;
  /** The envelope sender (a bare address). */
  readonly from: string;
  readonly to: string;
  /** The whole RFC 5322 message. */
  readonly raw: Buffer;
  /**
   * Called once the message data except its end has gone out, before the terminating dot: the
   * caller records the hand-over and answers whether to go on (false aborts, and the server never
   * gets a complete message).
   */
  beforeEnd(): Promise<boolean>;
  /** Aborts the send while it has not been handed over (shutdown); after that it runs to its reply. */
  readonly signal?: AbortSignal;
}

export type SendOutcome =
  /** The server accepted the message: its reply. */
  | { readonly kind: 'sent'; readonly reply: string }
  /** A permanent refusal (5xx) of the sender, a recipient or the message. */
  | { readonly kind: 'rejected'; readonly reply: string }
  /** Nothing was delivered and another attempt may succeed (no connection, 4xx, timeout before the end of data). */
  | { readonly kind: 'deferred'; readonly reply: string }
  /** The end of data went out and no reply came back: the server may or may not have the message. */
  | { readonly kind: 'uncertain'; readonly reply: string }
  /** Stopped before the hand-over (shutdown, or the lease was lost): nothing was delivered. */
  | { readonly kind: 'aborted'; readonly reply: string };

export interface SmtpPoolOptions {
  readonly timeouts: SmtpTimeouts;
  /** Messages one connection sends before it is closed and replaced. */
  readonly maxMessagesPerConnection?: number;
  /** How long an unused connection stays open. */
  readonly idleMs?: number;
}

interface PooledConnection {
  readonly key: string;
  readonly connection: SMTPConnection;
  messages: number;
  closed: boolean;
  idleTimer?: NodeJS.Timeout;
}

/**
 * SMTP connections kept open between messages (nodemailer's `SMTPConnection`, one per message in
 * flight, reused up to 100 messages or 5 s idle), with timeouts on connecting, the greeting and
 * every wait. Unlike nodemailer's pooled transport, which buffers a small message whole before the
 * envelope is even sent, it writes the message itself, so it can stop right before the end of
 * data and let the caller record the hand-over first.
 */
export class SmtpPool {
  readonly #options: Required<SmtpPoolOptions>;
  readonly #idle: PooledConnection[] = [];
  readonly #open = new Set<PooledConnection>();
  /** Stops the sends in flight that have not been handed over. */
  readonly #stopping = new Set<(force?: boolean) => void>();
  #closed = false;

  constructor(options: SmtpPoolOptions) {
    this.#options = { maxMessagesPerConnection: 100, idleMs: 5000, ...options };
  }

  async send(request: SendRequest): Promise<SendOutcome> {
    if (request.signal?.aborted) return { kind: 'aborted', reply: 'Stopped before sending' };
    let pooled: PooledConnection;
    const reused = this.#takeIdle(smtpServerKey(request.server));
    try {
      pooled = reused ?? (await this.#connect(request.server, request.signal));
    } catch (error) {
      if (request.signal?.aborted) return { kind: 'aborted', reply: 'Stopped before sending' };
      return { kind: 'deferred', reply: describeSmtpError(error) };
    }
    const outcome = await this.#sendOn(pooled, request);
    // A reused connection the server had closed in the meantime: nothing went out, try a fresh one.
    if (reused && outcome.kind === 'deferred' && outcome.dropped) return this.send(request);
    return outcome;
  }

  /** Closes every connection (messages in flight fail as their connection goes). */
  close(): void {
    this.#closed = true;
    for (const stop of [...this.#stopping]) stop(true);
    for (const pooled of [...this.#open]) this.#discard(pooled, 'close');
  }

  #takeIdle(key: string): PooledConnection | undefined {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const pooled = this.#idle[i]!;
      if (pooled.key !== key || pooled.closed) continue;
      this.#idle.splice(i, 1);
      clearTimeout(pooled.idleTimer);
      return pooled;
    }
    return undefined;
  }

  #connect(server: SmtpServer, signal: AbortSignal | undefined): Promise<PooledConnection> {
    const connection = openSmtpConnection(server, this.#options.timeouts);
    const pooled: PooledConnection = { key: smtpServerKey(server), connection, messages: 0, closed: false };
    this.#open.add(pooled);
    // An 'error' without a listener would end the process; errors reach the callbacks too.
    connection.on('error', () => this.#discard(pooled, false));
    connection.on('end', () => this.#discard(pooled, false));
    return new Promise<PooledConnection>((resolve, reject) => {
      const onAbort = () => {
        this.#discard(pooled, 'close');
        reject(new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Connection errors (refused, TLS, timeouts) are emitted, not given to the connect callback.
      const onError = (error: unknown) => done(error ?? new Error('SMTP connection failed'));
      connection.once('error', onError);
      let settled = false;
      const done = (error?: unknown) => {
        if (settled) return;
        settled = true;
        connection.removeListener('error', onError);
        signal?.removeEventListener('abort', onAbort);
        if (error) {
          this.#discard(pooled, 'close');
          reject(error);
        } else resolve(pooled);
      };
      connection.connect((error?: Error | null) => {
        if (error) return done(error);
        if (!server.username || !server.password) return done();
        connection.login({ credentials: { user: server.username, pass: server.password } }, (loginError?: Error | null) => done(loginError ?? undefined));
      });
    });
  }

  #sendOn(pooled: PooledConnection, request: SendRequest): Promise<SendOutcome & { dropped?: boolean }> {
    const { connection } = pooled;
    let handedOver = false;
    let stopped = false;
    let started = false;
    return new Promise((settle) => {
      let settled = false;
      const resolve = (outcome: SendOutcome & { dropped?: boolean }) => {
        if (settled) return;
        settled = true;
        this.#stopping.delete(stop);
        request.signal?.removeEventListener('abort', onAbort);
        settle(outcome);
      };
      // Closing a connection forgets the send in flight (its callback never comes): settle it here.
      const stop = (force = false) => {
        if (handedOver && !force) return;
        stopped = true;
        this.#discard(pooled, 'close');
        resolve(
          handedOver
            ? { kind: 'uncertain', reply: 'Stopped while waiting for the reply to the end of the message data' }
            : { kind: 'aborted', reply: 'Stopped before the end of the message data' },
        );
      };
      const onAbort = () => stop();
      this.#stopping.add(stop);
      request.signal?.addEventListener('abort', onAbort, { once: true });
      let pushed = false;
      const message = new Readable({
        read() {
          started = true;
          if (!pushed) {
            pushed = true;
            this.push(request.raw);
            return;
          }
          request.beforeEnd().then(
            (go) => {
              if (go && !stopped && !request.signal?.aborted) {
                handedOver = true;
                this.push(null);
              } else {
                stopped = true;
                this.destroy(new Error('Stopped before the end of the message data'));
              }
            },
            (error: unknown) => {
              stopped = true;
              this.destroy(error instanceof Error ? error : new Error(String(error)));
            },
          );
        },
      });
      connection.send({ from: request.from, to: [request.to] }, message, (error, info) => {
        if (settled) return;
        if (!error) {
          pooled.messages++;
          this.#release(pooled);
          return resolve({ kind: 'sent', reply: String(info?.response ?? '250 OK') });
        }
        this.#discard(pooled, 'close');
        const details = smtpErrorInfo(error);
        const reply = describeSmtpError(error);
        if (stopped && !handedOver) return resolve({ kind: 'aborted', reply });
        if (handedOver) {
          // The server answered the end of data: its answer is the outcome.
          if (details.responseCode !== undefined && details.response) {
            return resolve({ kind: details.responseCode >= 500 ? 'rejected' : 'deferred', reply });
          }
          return resolve({ kind: 'uncertain', reply: `No reply to the end of the message data: ${reply}` });
        }
        const permanent = (details.code === 'EENVELOPE' || details.code === 'EMESSAGE') && (details.responseCode ?? 0) >= 500;
        const dropped = !started && ['ECONNECTION', 'ESOCKET', 'ETIMEDOUT'].includes(details.code ?? '') && details.responseCode === undefined;
        resolve({ kind: permanent ? 'rejected' : 'deferred', reply, dropped });
      });
    });
  }

  #release(pooled: PooledConnection): void {
    if (this.#closed || pooled.closed || pooled.messages >= this.#options.maxMessagesPerConnection) {
      this.#discard(pooled, 'quit');
      return;
    }
    pooled.idleTimer = setTimeout(() => {
      const index = this.#idle.indexOf(pooled);
      if (index >= 0) this.#idle.splice(index, 1);
      this.#discard(pooled, 'quit');
    }, this.#options.idleMs);
    pooled.idleTimer.unref();
    this.#idle.push(pooled);
  }

  /** `quit` says goodbye (an idle or used-up connection), `close` drops it, `false`: it is gone already. */
  #discard(pooled: PooledConnection, how: 'quit' | 'close' | false): void {
    if (!pooled.closed) {
      pooled.closed = true;
      clearTimeout(pooled.idleTimer);
      if (how === 'quit') pooled.connection.quit();
      else if (how === 'close') pooled.connection.close();
    }
    this.#open.delete(pooled);
    const index = this.#idle.indexOf(pooled);
    if (index >= 0) this.#idle.splice(index, 1);
  }
}
