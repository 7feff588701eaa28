import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SettingsRow, SmtpTlsMode } from '../db/schema.ts';

/** What an SMTP connection needs of the settings. */
export interface SmtpServer {
  readonly hostname: string;
  readonly port: number;
  readonly tls: SmtpTlsMode;
  readonly username: string | null;
  readonly password: string | null;
}

export interface SmtpTimeouts {
  readonly connectionMs: number;
  readonly greetingMs: number;
  readonly socketMs: number;
}

/** The default port of each TLS mode: 465 for implicit TLS, 587 (submission) otherwise. */
export function defaultSmtpPort(tls: SmtpTlsMode): number {
  return tls === 'tls' ? 465 : 587;
}

/** The stored SMTP server, or null when no host name is set. */
export function smtpServerOf(settings: SettingsRow): SmtpServer | null {
  if (!settings.smtpHostname) return null;
  return {
    hostname: settings.smtpHostname,
    port: settings.smtpPort ?? defaultSmtpPort(settings.smtpTls),
    tls: settings.smtpTls,
    username: settings.smtpUsername || null,
    password: settings.smtpPassword || null,
  };
}

/** A key that changes whenever anything about the connection changes (pools drop old connections). */
export function smtpServerKey(server: SmtpServer): string {
  return JSON.stringify([server.hostname, server.port, server.tls, server.username, server.password]);
}

/**
 * `tls`: TLS from the first byte; `starttls`: STARTTLS whenever the server offers it; `none`:
 * plain text even when STARTTLS is offered. Certificates are verified.
 */
export function openSmtpConnection(server: SmtpServer, timeouts: SmtpTimeouts): SMTPConnection {
  return new SMTPConnection({
    host: server.hostname,
    port: server.port,
    secure: server.tls === 'tls',
    ignoreTLS: server.tls === 'none',
    connectionTimeout: timeouts.connectionMs,
    greetingTimeout: timeouts.greetingMs,
    socketTimeout: timeouts.socketMs,
    socketCloseTimeout: 0,
    dnsTimeout: timeouts.connectionMs,
  });
}

/** The reply code and text of an SMTP error, when the server gave one. */
export interface SmtpErrorInfo {
  readonly code: string | undefined;
  readonly responseCode: number | undefined;
  readonly response: string | undefined;
  readonly command: string | undefined;
  readonly message: string;
}

export function smtpErrorInfo(error: unknown): SmtpErrorInfo {
  const err = error as { code?: string; responseCode?: number; response?: string; command?: string; message?: string };
  return {
    code: typeof err?.code === 'string' ? err.code : undefined,
    responseCode: typeof err?.responseCode === 'number' ? err.responseCode : undefined,
    response: typeof err?.response === 'string' ? err.response : undefined,
    command: typeof err?.command === 'string' ? err.command : undefined,
    message: typeof err?.message === 'string' ? err.message : String(error),
  };
}

/** One line for the outbox's `lastReply`: the server's reply when there was one, else the error. */
export function describeSmtpError(error: unknown): string {
  const info = smtpErrorInfo(error);
  if (info.response) return info.command ? `${info.response} (after ${info.command})` : info.response;
  return info.code ? `${info.code}: ${info.message}` : info.message;
}
