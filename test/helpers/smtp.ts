import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** A message the test SMTP server accepted. */
export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  /** The message as sent (headers and body). */
  readonly raw: string;
  /** The message with quoted-printable soft breaks and escapes undone, to search for links. */
  readonly decoded: string;
  /** The `X-Outbox-Id` header: the outbox row it came from. */
  readonly outboxId: string | null;
  readonly subject: string | null;
}

export interface TestSmtpOptions {
  /** Accounts allowed to authenticate; AUTH is required when given. */
  readonly users?: Readonly<Record<string, string>>;
  /** Answers a recipient with this reply instead of accepting it, e.g. `550 No such user`. */
  readonly rejectRecipient?: (address: string) => { code: number; message: string } | null;
  /** Called when a message's data has arrived, before the server replies; the reply waits for it. */
  readonly beforeReply?: (session: SMTPServerSession) => Promise<void>;
  /** Called on RCPT TO, before the server replies; the reply waits for it. */
  readonly onRecipient?: (address: string) => Promise<void>;
  /** Port to listen on (0: any free one). */
  readonly port?: number;
  /**
   * TLS with this key and certificate (PEM): from the first byte (`implicit`), or offered through
   * STARTTLS. Without it the server speaks plain text and offers no STARTTLS.
   */
  readonly tls?: { readonly mode: 'implicit' | 'starttls'; readonly key: string; readonly cert: string };
}

/** A real SMTP server (the `smtp-server` package) on 127.0.0.1, recording what it accepts. */
export class TestSmtp {
  readonly received: ReceivedMail[] = [];
  /** Each successful AUTH, and whether its connection was encrypted by then. */
  readonly logins: { readonly username: string; readonly secure: boolean }[] = [];
  readonly #options: TestSmtpOptions;
  #server: SMTPServer | undefined;
  #port = 0;
  #waiters: (() => void)[] = [];

  private constructor(options: TestSmtpOptions) {
    this.#options = options;
  }

  static async start(options: TestSmtpOptions = {}): Promise<TestSmtp> {
    const smtp = new TestSmtp(options);
    await smtp.listen(options.port ?? 0);
    return smtp;
  }

  get port(): number {
    return this.#port;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  async listen(port = this.#port): Promise<void> {
    const users = this.#options.users;
    const tls = this.#options.tls;
    const server = new SMTPServer({
      secure: tls?.mode === 'implicit',
      ...(tls ? { key: tls.key, cert: tls.cert } : {}),
      disabledCommands: [...(tls?.mode === 'starttls' ? [] : ['STARTTLS']), ...(users ? [] : ['AUTH'])],
      authOptional: !users,
      allowInsecureAuth: true,
      logger: false,
      size: 10 * 1024 * 1024,
      onAuth: (auth, session, callback) => {
        if (users && users[auth.username ?? ''] === auth.password) {
          this.logins.push({ username: auth.username!, secure: session.secure });
          return callback(null, { user: auth.username });
        }
        callback(new Error('Invalid username or password'));
      },
      onRcptTo: (address, _session, callback) => {
        const refusal = this.#options.rejectRecipient?.(address.address);
        const reply = () => {
          if (refusal) {
            const error = new Error(refusal.message) as Error & { responseCode: number };
            error.responseCode = refusal.code;
            return callback(error);
          }
          callback();
        };
        if (this.#options.onRecipient) void this.#options.onRecipient(address.address).then(reply, reply);
        else reply();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const accept = () => {
            // A client that went away before the reply has not handed the message over.
            if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) return callback(new Error('too big'));
            const raw = Buffer.concat(chunks).toString('utf8');
            this.received.push(parse(raw, session));
            callback(null, 'Message queued');
            for (const wake of this.#waiters.splice(0)) wake();
          };
          if (this.#options.beforeReply) void this.#options.beforeReply(session).then(accept, accept);
          else accept();
        });
      },
    });
    server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  }

  /** Stops listening and drops open connections; `listen()` starts it again on the same port. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const connections = (server as unknown as { connections?: Set<{ close(): void }> }).connections;
    for (const connection of connections ?? []) connection.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Messages to `address` so far. */
  to(address: string): ReceivedMail[] {
    return this.received.filter((mail) => mail.to.includes(address.toLowerCase()));
  }

  /** Waits until `count` messages match (default: to `address`), or fails after `timeoutMs`. */
  async waitFor(match: (mail: ReceivedMail) => boolean, count = 1, timeoutMs = 10_000): Promise<ReceivedMail[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.filter(match);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} matching message(s) within ${timeoutMs} ms, got ${found.length} of ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** The token in a link `#/<route>/<token>` of a received message. */
export function tokenIn(mail: ReceivedMail, route: 'confirm-email' | 'reset-password'): string {
  const match = new RegExp(`#/${route}/([A-Za-z0-9_-]{34})`).exec(mail.decoded);
  if (!match) throw new Error(`no ${route} link in the message:\n${mail.decoded}`);
  return match[1]!;
}

function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_whole, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function parse(raw: string, session: SMTPServerSession): ReceivedMail {
  const headerEnd = raw.indexOf('\r\n\r\n');
  const headers = (headerEnd >= 0 ? raw.slice(0, headerEnd) : raw).replace(/\r\n[ \t]+/g, ' ');
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headers)?.[1]?.trim() ?? null;
  return {
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    to: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
    raw,
    decoded: decodeQuotedPrintable(raw),
    outboxId: header('X-Outbox-Id'),
    subject: header('Subject'),
  };
}
