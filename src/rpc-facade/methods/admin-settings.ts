import { enumValueName, SETTINGS, settingMessage, settingProblem, v1NameOf, type Setting } from '../../domain/settings.ts';
import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { failure, ok } from '../result.ts';

const BY_V1_NAME = new Map(SETTINGS.map((setting) => [setting.v1Name, setting]));

/** Read-only names a client may send back unchanged from a read. */
const IGNORED = new Set(['id', 'updated', ...SETTINGS.filter((setting) => setting.secret).map((setting) => v1NameOf(setting.readName))]);

const READ_FIELDS = [...SETTINGS.map((setting) => setting.readName), 'updatedAt'].join(' ');

/** The JSON type v1 clients send; enum values are checked by the setting's own rule, so the message names them. */
function jsonSchema(setting: Setting): Record<string, unknown> {
  const type = { text: 'string', integer: 'integer', boolean: 'boolean', enum: 'string' }[setting.kind];
  return { type: setting.nullable ? [type, 'null'] : type, description: setting.description };
}

/** A GraphQL value of the setting as v1 shows it: enum values as the domain spells them. */
function toV1(setting: Setting, value: unknown): unknown {
  if (setting.kind !== 'enum' || typeof value !== 'string') return value;
  return setting.values.find((candidate) => enumValueName(candidate) === value) ?? value;
}

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
      for (const setting of SETTINGS) {
        if (setting.secret) {
          row[setting.v1Name] = null;
          row[v1NameOf(setting.readName)] = settings[setting.readName];
        } else {
          row[setting.v1Name] = toV1(setting, settings[setting.name]);
        }
      }
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
          properties: Object.fromEntries(SETTINGS.map((setting) => [setting.v1Name, jsonSchema(setting)])),
        },
        description: 'The settings to change; the others stay as they are.',
      },
    ],
    document: `mutation AdminSettingsUpdate($input: SettingsInput!) { updateSettings(input: $input) { ${ERROR_FIELDS} } }`,
    // The settings' own rules judge the values here, so that messages name the v1 setting.
    plan: ([settings]) => {
      const input: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(settings as Record<string, unknown>)) {
        if (IGNORED.has(name)) continue;
        const setting = BY_V1_NAME.get(name);
        if (!setting) return failure(400, settingMessage(name, 'is unknown'));
        const problem = settingProblem(setting, value);
        if (problem) return failure(400, settingMessage(name, problem));
        input[setting.name] = setting.kind === 'enum' && typeof value === 'string' ? enumValueName(value) : value;
      }
      return { variables: { input } };
    },
    result: () => ok(),
  },
  {
    id: '/v1/admin/settings/test-smtp',
    permission: 'admin',
    title: 'Test SMTP server settings',
    params: [
      {
        name: 'settings',
        required: true,
        schema: {
          type: 'object',
          properties: {
            smtp_hostname: { type: 'string' },
            smtp_port: { type: 'integer', minimum: 0, maximum: 65535 },
            smtp_username: { type: 'string' },
            smtp_password: { type: 'string' },
          },
          required: [],
          additionalProperties: false,
        },
        description: 'The SMTP settings to try; each one omitted is taken from the stored settings. Nothing is stored.',
      },
    ],
    document: `mutation AdminSettingsTestSmtp($input: SmtpTestInput) { testSmtp(input: $input) { ok code message lines } }`,
    plan: ([settings]) => {
      const given = settings as { smtp_hostname?: string; smtp_port?: number; smtp_username?: string; smtp_password?: string };
      return {
        variables: {
          input: {
            hostname: given.smtp_hostname || null,
            // Port 0 (allowed by the v1 schema) means the default port.
            port: given.smtp_port || null,
            username: given.smtp_username ?? null,
            password: given.smtp_password ?? null,
          },
        },
      };
    },
    // The SMTP reply is the result: 235 / 250 ok, the server's code otherwise (protocol.md §4.2).
    result: (data) => {
      const reply = data.testSmtp as { code: number; message: string; lines: string[] };
      return { status: reply.code, statusText: reply.message, data: reply.lines, httpStatus: 200 };
    },
  },
];
