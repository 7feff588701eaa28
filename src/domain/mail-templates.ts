import { readFileSync } from 'node:fs';
import type { SettingsRow } from '../db/schema.ts';
import type { OutboxDraft } from './outbox.ts';

export const MAIL_TEMPLATES = ['email-confirmation', 'password-reset'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

interface TemplateFiles {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Each template is `<name>.txt` (its first line `Subject: …`, then a blank line) and `<name>.html`, beside this file. */
function load(name: MailTemplate): TemplateFiles {
  const folder = new URL('./mail-templates/', import.meta.url);
  const text = readFileSync(new URL(`${name}.txt`, folder), 'utf8');
  const html = readFileSync(new URL(`${name}.html`, folder), 'utf8');
  const match = /^Subject: (.*)\r?\n\r?\n/.exec(text);
  if (!match) throw new Error(`mail template ${name}.txt must start with a "Subject: " line and a blank line`);
  return { subject: match[1]!, text: text.slice(match[0].length), html };
}

const TEMPLATES: Readonly<Record<MailTemplate, TemplateFiles>> = Object.fromEntries(MAIL_TEMPLATES.map((name) => [name, load(name)])) as Record<
  MailTemplate,
  TemplateFiles
>;

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);

function fill(template: string, values: Readonly<Record<string, string>>, escape: (value: string) => string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => (name in values ? escape(values[name]!) : whole));
}

/** The sender's display name of `smtp_from` ("Name <address>"), else the host of `app_url`. */
export function productName(settings: Pick<SettingsRow, 'smtpFrom' | 'appUrl'>): string {
  const display = settings.smtpFrom ? /^\s*"?([^"<]*?)"?\s*</.exec(settings.smtpFrom)?.[1]?.trim() : undefined;
  if (display) return display;
  if (settings.appUrl) {
    try {
      return new URL(settings.appUrl).host;
    } catch {
      // fall through
    }
  }
  return 'Identity gateway';
}

/** The link of an e-mailed token: `<app_url>#/confirm-email/<token>` or `<app_url>#/reset-password/<token>`. */
export function tokenLink(appUrl: string | null, template: MailTemplate, token: string): string {
  const route = template === 'email-confirmation' ? 'confirm-email' : 'reset-password';
  return `${appUrl ?? ''}#/${route}/${token}`;
}

export interface TemplateValues {
  readonly username: string;
  readonly email: string;
  readonly token: string;
}

/** Renders a template into the subject, plain text and HTML an outbox row keeps. */
export function renderMail(
  template: MailTemplate,
  settings: Pick<SettingsRow, 'smtpFrom' | 'appUrl'>,
  values: TemplateValues,
): OutboxDraft {
  const files = TEMPLATES[template];
  const all = { username: values.username, email: values.email, product: productName(settings), link: tokenLink(settings.appUrl, template, values.token) };
  const plain = (value: string) => value.replace(/[\r\n]+/g, ' ');
  return {
    recipient: values.email,
    template,
    subject: fill(files.subject, all, plain),
    text: fill(files.text, all, (value) => value),
    html: fill(files.html, all, escapeHtml),
  };
}

/** The subject alone, for rows recording a message that was not composed. */
export function renderSubject(template: MailTemplate, settings: Pick<SettingsRow, 'smtpFrom' | 'appUrl'>): string {
  return fill(TEMPLATES[template].subject, { product: productName(settings) }, (value) => value.replace(/[\r\n]+/g, ' '));
}
