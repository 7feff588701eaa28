import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { settings, SMTP_TLS_MODES, type SettingsRow, type SmtpTlsMode } from '../db/schema.ts';
import { ValidationError } from './errors.ts';
import { isEmailShaped, isStorableText } from './user-fields.ts';

/** Settings as callers see them: secrets never leave, only whether they are set. */
export type SettingsView = Omit<SettingsRow, 'id' | 'smtpPassword'> & {
  readonly smtpPassword: null;
  readonly smtpPasswordSet: boolean;
};

type Editable = Omit<SettingsRow, 'id' | 'updatedAt'>;
export type SettingsPatch = { readonly [K in keyof Editable]?: Editable[K] | null };

/** Names of the settings a patch may contain, in the order they are documented. */
export const SETTING_NAMES = [
  'appUrl',
  'smtpHostname',
  'smtpPort',
  'smtpUsername',
  'smtpPassword',
  'smtpFrom',
  'smtpTls',
  'signupEnabled',
  'signinIpLimit',
  'signinAccountLimit',
  'signinWindowSeconds',
  'emailIpLimit',
  'emailAccountLimit',
  'emailWindowSeconds',
  'callLogRetentionDays',
  'notificationRetentionDays',
] as const satisfies readonly (keyof Editable)[];

type Rule = (value: unknown, name: string) => unknown;

const text = (max: number, check?: (value: string) => boolean, what = 'is invalid'): Rule => (value, name) => {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > max || !isStorableText(value) || (check && !check(value))) {
    throw new ValidationError(`Setting "${name}" ${what}`, name);
  }
  return value;
};

const int = (min: number, max: number, nullable: boolean): Rule => (value, name) => {
  if (value === null && nullable) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`Setting "${name}" must be an integer from ${min} to ${max}`, name);
  }
  return value;
};

const bool: Rule = (value, name) => {
  if (typeof value !== 'boolean') throw new ValidationError(`Setting "${name}" must be true or false`, name);
  return value;
};

const isHttpUrl = (value: string) => {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};
const isHostname = (value: string) => /^[A-Za-z0-9.-]{1,253}$/.test(value) || /^\[[0-9a-fA-F:]+\]$/.test(value);
/** `user@example.com` or `Name <user@example.com>`. */
const isSender = (value: string) => isEmailShaped(value) || /^[^<>]{0,128}<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>$/.test(value.trim());

const RULES: Record<(typeof SETTING_NAMES)[number], Rule> = {
  appUrl: text(2048, isHttpUrl, 'must be an http(s) URL'),
  smtpHostname: text(253, isHostname, 'must be a host name'),
  smtpPort: int(1, 65535, true),
  smtpUsername: text(256),
  smtpPassword: text(1024),
  smtpFrom: text(320, isSender, 'must be an e-mail address, optionally as "Name <address>"'),
  smtpTls: (value, name) => {
    if (!SMTP_TLS_MODES.includes(value as SmtpTlsMode)) {
      throw new ValidationError(`Setting "${name}" must be one of ${SMTP_TLS_MODES.join(', ')}`, name);
    }
    return value;
  },
  signupEnabled: bool,
  signinIpLimit: int(1, 1_000_000, false),
  signinAccountLimit: int(1, 1_000_000, false),
  signinWindowSeconds: int(1, 86_400, false),
  emailIpLimit: int(1, 1_000_000, false),
  emailAccountLimit: int(1, 1_000_000, false),
  emailWindowSeconds: int(1, 86_400, false),
  callLogRetentionDays: int(1, 3650, false),
  notificationRetentionDays: int(1, 3650, false),
};

/** The initial SMTP settings an `SMTP_URL` gives (`smtp://user:password@host:587`, `smtps://` for TLS). */
export function smtpSettingsFromUrl(smtpUrl: string | undefined): Partial<Editable> {
  if (!smtpUrl) return {};
  const url = new URL(smtpUrl);
  const tls = url.protocol === 'smtps:';
  return {
    smtpHostname: url.hostname,
    smtpPort: url.port ? Number(url.port) : tls ? 465 : 587,
    smtpUsername: url.username ? decodeURIComponent(url.username) : null,
    smtpPassword: url.password ? decodeURIComponent(url.password) : null,
    smtpTls: tls ? 'tls' : 'starttls',
  };
}

/** The one settings row: read with secrets masked, updated by validated partial patches. */
export class Settings {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async read(): Promise<SettingsRow> {
    const [row] = await this.#db.select().from(settings).where(eq(settings.id, 1));
    if (!row) throw new Error('the settings row is missing (bootstrap has not run)');
    return row;
  }

  async view(): Promise<SettingsView> {
    return mask(await this.read());
  }

  /** Validates every given setting (all problems reported at once is not needed: the first one is). */
  async update(patch: SettingsPatch): Promise<SettingsView> {
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const rule = RULES[name as keyof typeof RULES];
      if (!rule) throw new ValidationError(`Setting "${name}" is unknown`, name);
      values[name] = rule(value, name);
    }
    if (Object.keys(values).length === 0) return this.view();
    const [row] = await this.#db
      .update(settings)
      .set({ ...(values as Partial<Editable>), updatedAt: new Date() })
      .where(eq(settings.id, 1))
      .returning();
    return mask(row!);
  }
}

function mask(row: SettingsRow): SettingsView {
  const { id: _id, smtpPassword, ...visible } = row;
  return { ...visible, smtpPassword: null, smtpPasswordSet: smtpPassword !== null && smtpPassword !== '' };
}
