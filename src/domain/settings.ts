import { eq, getTableColumns } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { settings, SMTP_TLS_MODES, type SettingsRow } from '../db/schema.ts';
import { callLimitOverridesProblem } from './call-limits.ts';
import { ValidationError } from './errors.ts';
import { isEmailShaped, isStorableText } from './user-fields.ts';

type Editable = Omit<SettingsRow, 'id' | 'updatedAt'>;
export type SettingName = keyof Editable;

interface TextSpec {
  readonly kind: 'text';
  readonly maxLength: number;
  readonly check?: (value: string) => boolean;
  /** What a valid value looks like, for the error message. */
  readonly expected?: string;
}
interface IntegerSpec {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
}
interface BooleanSpec {
  readonly kind: 'boolean';
}
/** A JSON value judged by `problem` (which says what is wrong, or null). */
interface JsonSpec {
  readonly kind: 'json';
  readonly problem: (value: unknown) => string | null;
}
interface EnumSpec {
  readonly kind: 'enum';
  readonly values: readonly string[];
  /** Name of the GraphQL enum type. */
  readonly graphqlName: string;
}
type ValueSpec<T> = T extends boolean
  ? BooleanSpec
  : T extends number
    ? IntegerSpec
    : T extends string
      ? TextSpec | EnumSpec
      : T extends object
        ? JsonSpec
        : never;
type SettingSpec<T> = ValueSpec<NonNullable<T>> & {
  readonly description: string;
  /** Write-only: reads tell only whether it is set. */
  readonly secret?: true;
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

const count = (max = 1_000_000): IntegerSpec => ({ kind: 'integer', min: 1, max });
const seconds = (max = 86_400): IntegerSpec => ({ kind: 'integer', min: 1, max });
const days: IntegerSpec = { kind: 'integer', min: 1, max: 3650 };

/**
 * Every application setting, described once, in the order they are documented. The GraphQL
 * `Settings` / `SettingsInput` types, the v1 names (snake_case of these) and JSON Schemas, and the
 * validation all derive from it; nullability and defaults come from the `settings` table, whose
 * columns must match these names (the type check fails otherwise).
 */
const SPECS = {
  appUrl: { kind: 'text', maxLength: 2048, check: isHttpUrl, expected: 'an http(s) URL', description: 'Base URL of the web application, used in e-mailed links.' },
  smtpHostname: { kind: 'text', maxLength: 253, check: isHostname, expected: 'a host name', description: 'SMTP server host name.' },
  smtpPort: { kind: 'integer', min: 1, max: 65535, description: 'SMTP server port.' },
  smtpUsername: { kind: 'text', maxLength: 256, description: 'SMTP user name.' },
  smtpPassword: { kind: 'text', maxLength: 1024, secret: true, description: 'SMTP password.' },
  smtpFrom: {
    kind: 'text',
    maxLength: 320,
    check: isSender,
    expected: 'an e-mail address, optionally as "Name <address>"',
    description: 'Sender of e-mails: `user@example.com` or `Name <user@example.com>`.',
  },
  smtpTls: { kind: 'enum', values: SMTP_TLS_MODES, graphqlName: 'SmtpTls', description: 'How the SMTP connection is secured.' },
  signupEnabled: { kind: 'boolean', description: 'Whether anyone may create an account.' },
  signinIpLimit: { ...count(), description: 'Sign-in attempts, successful or not, per client address per window: a ceiling only bots reach.' },
  signinIpFailureLimit: { ...count(), description: 'Failed sign-ins per client address per window (stops password spraying).' },
  signinIpWindowSeconds: { ...seconds(), description: 'Window of the per-address sign-in limits, in seconds.' },
  signinAccountLimit: {
    ...count(),
    description: 'Failed sign-ins per account before it is locked for a while; a successful sign-in starts the count again.',
  },
  signinAccountLockoutSeconds: { ...seconds(), description: 'First lockout of an account, in seconds; each further one lasts twice as long.' },
  signinAccountMaxLockoutSeconds: { ...seconds(), description: 'Longest lockout of an account, in seconds.' },
  signinAccountWindowSeconds: {
    ...seconds(),
    description: 'How long failed sign-ins and lockouts of an account are remembered without a successful sign-in, in seconds.',
  },
  emailIpLimit: { ...count(), description: 'E-mails requested per client address per window.' },
  emailAccountLimit: { ...count(), description: 'E-mails sent per account per window.' },
  emailWindowSeconds: { ...seconds(), description: 'Window of the e-mail limits, in seconds.' },
  callLogRetentionDays: { ...days, description: 'Days the API call log is kept.' },
  notificationRetentionDays: { ...days, description: 'Days notifications are kept.' },
  // Hardening: per-method call limits and GraphQL introspection in production.
  callLimits: {
    kind: 'json',
    problem: callLimitOverridesProblem,
    description:
      'Changes to the call limits, by v1 method id or GraphQL root field ("*" for the defaults): { perAddress, perAccount, perToken: { max, windowSeconds } | null, concurrent, concurrentPerCaller: integer | null }. See the README, "Limits".',
  },
  graphqlIntrospection: { kind: 'boolean', description: 'Whether GraphQL introspection is answered when NODE_ENV is production (always outside it).' },
} as const satisfies { readonly [K in SettingName]: SettingSpec<Editable[K]> };

export type SettingKind = TextSpec | IntegerSpec | BooleanSpec | EnumSpec | JsonSpec;
export type Setting = SettingKind & {
  readonly name: SettingName;
  /** The v1 API's (snake_case) name. */
  readonly v1Name: string;
  /** The field reads show: the setting itself, or for a secret `<name>Set`, whether it is set. */
  readonly readName: string;
  readonly nullable: boolean;
  readonly default: unknown;
  readonly secret: boolean;
  readonly description: string;
};

const COLUMNS = getTableColumns(settings);

/** The v1 name of a setting or of a field of a settings read: its name in snake_case. */
export function v1NameOf(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export const SETTINGS: readonly Setting[] = (Object.keys(SPECS) as SettingName[]).map((name) => {
  const spec: SettingKind & { readonly description: string; readonly secret?: true } = SPECS[name];
  const column = COLUMNS[name];
  const secret = spec.secret === true;
  return Object.freeze({
    ...spec,
    name,
    v1Name: v1NameOf(name),
    readName: secret ? `${name}Set` : name,
    nullable: !column.notNull,
    default: column.default ?? null,
    secret,
  });
});

const BY_NAME = new Map<string, Setting>(SETTINGS.map((setting) => [setting.name, setting]));

export function findSetting(name: string): Setting | undefined {
  return BY_NAME.get(name);
}

/** How a value of an enum setting is named in GraphQL. */
export function enumValueName(value: string): string {
  return value.toUpperCase();
}

/** The message of an invalid setting, under the name the caller used for it. */
export function settingMessage(name: string, problem: string): string {
  return `Setting "${name}" ${problem}`;
}

function expectation(setting: Setting): string {
  switch (setting.kind) {
    case 'text':
      return setting.expected ? `must be ${setting.expected}` : 'is invalid';
    case 'integer':
      return `must be an integer from ${setting.min} to ${setting.max}`;
    case 'boolean':
      return 'must be true or false';
    case 'enum':
      return `must be one of ${setting.values.join(', ')}`;
    case 'json':
      return 'is invalid';
  }
}

function acceptable(setting: Setting, value: unknown): boolean {
  switch (setting.kind) {
    case 'text':
      return (
        typeof value === 'string' && value.length <= setting.maxLength && isStorableText(value) && (!setting.check || setting.check(value))
      );
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= setting.min && value <= setting.max;
    case 'boolean':
      return typeof value === 'boolean';
    case 'enum':
      return typeof value === 'string' && setting.values.includes(value);
    case 'json':
      return setting.problem(value) === null;
  }
}

/** What is wrong with `value` for this setting (e.g. "must be an integer from 1 to 65535"), or null. */
export function settingProblem(setting: Setting, value: unknown): string | null {
  if (value === null ? setting.nullable : acceptable(setting, value)) return null;
  if (setting.kind === 'json' && value !== null) return setting.problem(value);
  return expectation(setting);
}

type SecretName = { [K in SettingName]: (typeof SPECS)[K] extends { readonly secret: true } ? K : never }[SettingName];

/** Settings as callers see them: secrets never leave, only whether they are set (`<name>Set`). */
export type SettingsView = Omit<SettingsRow, 'id' | SecretName> & { readonly [K in SecretName]: null } & {
  readonly [K in SecretName as `${K}Set`]: boolean;
};

export type SettingsPatch = { readonly [K in SettingName]?: Editable[K] | null };

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
  /** Told after every change that wrote something (the live settings of every node reread). */
  onChanged: () => Promise<void> = async () => {};

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

  /** Validates every given setting and writes none unless all are valid; the first problem is reported. */
  async update(patch: SettingsPatch): Promise<SettingsView> {
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const setting = findSetting(name);
      if (!setting) throw new ValidationError(settingMessage(name, 'is unknown'), name);
      const problem = settingProblem(setting, value);
      if (problem) throw new ValidationError(settingMessage(name, problem), name);
      values[name] = value;
    }
    if (Object.keys(values).length === 0) return this.view();
    const [row] = await this.#db
      .update(settings)
      .set({ ...(values as Partial<Editable>), updatedAt: new Date() })
      .where(eq(settings.id, 1))
      .returning();
    await this.onChanged();
    return mask(row!);
  }
}

function mask(row: SettingsRow): SettingsView {
  const { id: _id, ...visible } = row;
  const view: Record<string, unknown> = visible;
  for (const setting of SETTINGS) {
    if (!setting.secret) continue;
    const value = view[setting.name];
    view[setting.name] = null;
    view[setting.readName] = value !== null && value !== '';
  }
  return view as unknown as SettingsView;
}
