import type { SmtpTlsMode } from '../db/schema.ts';
import type { Settings } from './settings.ts';
import { defaultSmtpPort, openSmtpConnection, smtpErrorInfo, type SmtpServer } from './smtp.ts';

/** Values to try instead of the stored ones; each one omitted is taken from the settings. */
export interface SmtpTestInput {
  readonly hostname?: string | null;
  readonly port?: number | null;
  readonly username?: string | null;
  readonly password?: string | null;
  readonly tls?: SmtpTlsMode | null;
}

/** The SMTP reply, as v1 `test-smtp` returns it: 235 / 250 ok, the server's code otherwise, 400 / 500 for local failures. */
export interface SmtpTestResult {
  readonly ok: boolean;
  readonly code: number;
  readonly message: string;
  /** The reply's lines, as the server sent them. */
  readonly lines: readonly string[];
}

export const SMTP_TEST_TIMEOUT_MS = 10_000;

function fromReply(reply: string, fallback: number): SmtpTestResult {
  const lines = reply.split(/\r?\n/).filter((line) => line !== '');
  const last = lines.at(-1) ?? '';
  const match = /^(\d{3})[ -]?(.*)$/.exec(last);
  const code = match ? Number(match[1]) : fallback;
  // Drop an enhanced status code (5.7.8) from the text, as clients show it as a status text.
  const message = (match?.[2] ?? last).replace(/^\d\.\d{1,3}\.\d{1,3}\s+/, '').trim() || 'SMTP reply';
  return { ok: code >= 200 && code < 300, code, message, lines };
}

const localFailure = (code: number, message: string): SmtpTestResult => ({ ok: false, code, message, lines: [] });

/**
 * Connects to an SMTP server, negotiates TLS (implicit TLS or STARTTLS when offered, per
 * `smtp_tls`), authenticates when credentials are given and reports the server's reply. Stores
 * nothing; gives up after 10 s.
 */
export async function testSmtp(settings: Settings, input: SmtpTestInput, timeoutMs = SMTP_TEST_TIMEOUT_MS): Promise<SmtpTestResult> {
  const stored = await settings.read();
  const hostname = input.hostname ?? stored.smtpHostname;
  if (!hostname) return localFailure(400, 'SMTP host name is not set');
  const tls = input.tls ?? stored.smtpTls;
  const username = (input.username ?? stored.smtpUsername) || null;
  const password = (input.password ?? stored.smtpPassword) || null;
  const server: SmtpServer = { hostname, port: input.port ?? stored.smtpPort ?? defaultSmtpPort(tls), tls, username, password };
  return probe(server, timeoutMs);
}

function probe(server: SmtpServer, timeoutMs: number): Promise<SmtpTestResult> {
  const connection = openSmtpConnection(server, { connectionMs: timeoutMs, greetingMs: timeoutMs, socketMs: timeoutMs });
  return new Promise<SmtpTestResult>((resolve) => {
    let settled = false;
    const finish = (result: SmtpTestResult, quit: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (quit) connection.quit();
      else connection.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish(localFailure(500, `No answer from ${server.hostname}:${server.port} within ${timeoutMs / 1000} s`), false), timeoutMs);
    const fail = (error: unknown) => {
      const info = smtpErrorInfo(error);
      if (info.response && /^\d{3}/.test(info.response)) return finish(fromReply(info.response, 500), false);
      finish(localFailure(500, info.message), false);
    };
    connection.on('error', fail);
    connection.connect((error?: Error | null) => {
      if (error) return fail(error);
      const greeting = String(connection.lastServerResponse || '250 OK');
      if (!server.username || !server.password) return finish(fromReply(greeting, 250), true);
      if (!connection.allowsAuth) return finish(localFailure(400, 'Authentication is not supported'), true);
      connection.login({ credentials: { user: server.username, pass: server.password } }, (loginError?: Error | null) => {
        if (loginError) return fail(loginError);
        finish(fromReply(String(connection.lastServerResponse || '235 Authentication successful'), 235), true);
      });
    });
  });
}
