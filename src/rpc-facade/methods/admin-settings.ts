import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { failure, ok } from '../result.ts';

/** v1 setting name → GraphQL field, with the JSON type v1 clients send. */
const SETTINGS = {
  app_url: ['appUrl', ['string', 'null']],
  smtp_hostname: ['smtpHostname', ['string', 'null']],
  smtp_port: ['smtpPort', ['integer', 'null']],
  smtp_username: ['smtpUsername', ['string', 'null']],
  smtp_password: ['smtpPassword', ['string', 'null']],
  smtp_from: ['smtpFrom', ['string', 'null']],
  smtp_tls: ['smtpTls', 'string'],
  signup_enabled: ['signupEnabled', 'boolean'],
  signin_ip_limit: ['signinIpLimit', 'integer'],
  signin_account_limit: ['signinAccountLimit', 'integer'],
  signin_window_seconds: ['signinWindowSeconds', 'integer'],
  email_ip_limit: ['emailIpLimit', 'integer'],
  email_account_limit: ['emailAccountLimit', 'integer'],
  email_window_seconds: ['emailWindowSeconds', 'integer'],
  call_log_retention_days: ['callLogRetentionDays', 'integer'],
  notification_retention_days: ['notificationRetentionDays', 'integer'],
} as const satisfies Record<string, readonly [string, string | readonly string[]]>;

const V1_NAMES = new Map<string, string>(Object.entries(SETTINGS).map(([name, [field]]) => [field, name]));

/** Read-only names a client may send back unchanged from a read. */
const IGNORED = new Set(['id', 'updated', 'smtp_password_set']);

const READ_FIELDS = [
  ...Object.values(SETTINGS)
    .map(([field]): string => field)
    .filter((field) => field !== 'smtpPassword'),
  'smtpPasswordSet',
  'updatedAt',
].join(' ');

export const adminSettingsMethods: V1Method[] = [
  {
    id: '/v1/admin/settings/read',
    permission: 'admin',
    title: 'Read application settings',
    params: [],
    document: `query AdminSettingsRead { settings { ${READ_FIELDS} } }`,
    plan: () => ({ variables: {} }),
    result: (data) => {
      const settings = data.settings as Record<string, unknown>;
      const row: Record<string, unknown> = {};
      for (const [name, [field]] of Object.entries(SETTINGS)) {
        row[name] = field === 'smtpPassword' ? null : field === 'smtpTls' ? String(settings[field]).toLowerCase() : settings[field];
      }
      row.smtp_password_set = settings.smtpPasswordSet;
      row.updated = settings.updatedAt;
      return ok(row);
    },
  },
  {
    id: '/v1/admin/settings/update',
    permission: 'admin',
    title: 'Update application settings',
    params: [
      {
        name: 'settings',
        required: true,
        schema: {
          type: 'object',
          properties: Object.fromEntries(Object.entries(SETTINGS).map(([name, [, type]]) => [name, { type }])),
        },
        description: 'The settings to change; the others stay as they are.',
      },
    ],
    document: `mutation AdminSettingsUpdate($input: SettingsInput!) { updateSettings(input: $input) { ${ERROR_FIELDS} } }`,
    // `Setting "smtpPort" must be …` names the v1 setting instead: `Setting "smtp_port" must be …`.
    errorMessage: (message) => message.replace(/"(\w+)"/, (quoted, field: string) => (V1_NAMES.has(field) ? `"${V1_NAMES.get(field)}"` : quoted)),
    plan: ([settings]) => {
      const input: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(settings as Record<string, unknown>)) {
        if (IGNORED.has(name)) continue;
        const known = SETTINGS[name as keyof typeof SETTINGS];
        if (!known) return failure(400, `Setting "${name}" is unknown`);
        if (known[0] === 'smtpTls') {
          if (!['starttls', 'tls', 'none'].includes(value as string)) return failure(400, 'Setting "smtp_tls" must be one of starttls, tls, none');
          input.smtpTls = (value as string).toUpperCase();
        } else {
          input[known[0]] = value;
        }
      }
      return { variables: { input } };
    },
    result: () => ok(),
  },
];
