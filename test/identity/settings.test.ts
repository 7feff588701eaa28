import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTableColumns } from 'drizzle-orm';
import { settings as settingsTable } from '../../src/db/schema.ts';
import { SETTINGS, smtpSettingsFromUrl } from '../../src/domain/settings.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { print } from 'graphql';
import { graphql, type ResultOf, type VariablesOf } from '../../src/rpc-facade/graphql.ts';
import { createApiToken, createSignedInUser, ErrorFields, gql, member, ok, rootSession } from '../helpers/graphql.ts';

const SettingsFields = graphql(`
  fragment SettingsFields on Settings @_unmask {
    appUrl smtpHostname smtpPort smtpUsername smtpPasswordSet smtpFrom smtpTls signupEnabled
    signinIpLimit signinIpFailureLimit signinIpWindowSeconds signinAccountLimit signinAccountLockoutSeconds
    signinAccountMaxLockoutSeconds signinAccountWindowSeconds emailIpLimit emailAccountLimit emailWindowSeconds
    callLogRetentionDays notificationRetentionDays updatedAt
  }
`);
const READ = graphql(`query ReadSettings { settings { ...SettingsFields } }`, [SettingsFields]);
const UPDATE = graphql(
  `
    mutation UpdateSettings($input: SettingsInput!) {
      updateSettings(input: $input) {
        __typename
        ... on SettingsPayload { settings { ...SettingsFields } }
        ...ErrorFields
        ... on ValidationError { field }
      }
    }
  `,
  [SettingsFields, ErrorFields],
);

type SettingsView = ResultOf<typeof SettingsFields>;
type SettingsInput = VariablesOf<typeof UPDATE>['input'];

describe.each(MODES)('settings through GraphQL (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    // SMTP_URL gives the initial SMTP settings on the first start of a deployment.
    gw = await startTestGateway(mode, { env: { SMTP_URL: 'smtps://mailer%40example.com:p%40ss@smtp.example.com:2465' } });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  const read = async (token = root) => ok(await gql(gw, READ, {}, token)).settings;
  const answer = async (input: SettingsInput, token = root) => ok(await gql(gw, UPDATE, { input }, token)).updateSettings;
  /** Changes settings that must be accepted, and gives the settings after the change. */
  const update = async (input: SettingsInput, token = root) => member(await answer(input, token), 'SettingsPayload').settings;
  const withoutTime = ({ updatedAt: _updatedAt, ...rest }: SettingsView) => rest;

  it('reads the settings (SMTP ones seeded from SMTP_URL) without any secret', async () => {
    const settings = await read();
    expect(settings).toMatchObject({
      appUrl: null,
      smtpHostname: 'smtp.example.com',
      smtpPort: 2465,
      smtpUsername: 'mailer@example.com',
      smtpPasswordSet: true,
      smtpFrom: null,
      smtpTls: 'TLS',
      signupEnabled: true,
      signinIpLimit: 1_000_000,
      signinIpFailureLimit: 100,
      signinIpWindowSeconds: 900,
      signinAccountLimit: 10,
      signinAccountLockoutSeconds: 60,
      signinAccountMaxLockoutSeconds: 900,
      signinAccountWindowSeconds: 43_200,
      emailIpLimit: 10,
      emailAccountLimit: 5,
      emailWindowSeconds: 3600,
      callLogRetentionDays: 30,
      notificationRetentionDays: 30,
    });
    expect(Date.parse(settings.updatedAt)).not.toBeNaN();
    const fields = ok(await gql<{ __type: { fields: { name: string }[] } }>(gw, '{ __type(name: "Settings") { fields { name } } }')).__type.fields;
    expect(JSON.stringify(settings)).not.toContain('p@ss');
    expect(fields.filter((field) => /password|secret|key/i.test(field.name)).map((field) => field.name)).toEqual(['smtpPasswordSet']);
    const asQuery = await gql(gw, '{ settings { smtpPassword } }', {}, root);
    expect(asQuery.status).toBe(400);
    expect(asQuery.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', status: 400 });
  });

  it('changes only the given settings', async () => {
    const before = await read();
    const changed = await update({ appUrl: 'https://app.example.com/base', smtpPort: 2525, smtpFrom: 'Team <team@example.com>' });
    const expected = { ...withoutTime(before), appUrl: 'https://app.example.com/base', smtpPort: 2525, smtpFrom: 'Team <team@example.com>' };
    expect(withoutTime(changed)).toEqual(expected);
    expect(withoutTime(await read())).toEqual(expected);
    expect(Date.parse((await read()).updatedAt)).toBeGreaterThanOrEqual(Date.parse(before.updatedAt));

    const tls = await update({ smtpTls: 'NONE', smtpHostname: 'mail.example.com', smtpUsername: 'mailer' });
    expect(withoutTime(tls)).toEqual({ ...expected, smtpTls: 'NONE', smtpHostname: 'mail.example.com', smtpUsername: 'mailer' });
    // An empty input changes nothing.
    const unchanged = await update({});
    expect(withoutTime(unchanged)).toEqual(withoutTime(tls));
  });

  it('takes the SMTP password write-only, and null clears nullable settings', async () => {
    expect((await update({ smtpPassword: null })).smtpPasswordSet).toBe(false);
    const withPassword = await answer({ smtpPassword: 'the smtp secret' });
    expect(member(withPassword, 'SettingsPayload').settings.smtpPasswordSet).toBe(true);
    expect(JSON.stringify(withPassword)).not.toContain('the smtp secret');
    expect((await read()).smtpPasswordSet).toBe(true);
    expect((await update({ smtpPassword: null })).smtpPasswordSet).toBe(false);
    expect((await update({ smtpPassword: '' })).smtpPasswordSet).toBe(false);

    await update({ appUrl: 'http://localhost:3000', smtpHostname: 'smtp.example.com', smtpPort: 465, smtpUsername: 'u', smtpFrom: 'a@b.co' });
    const cleared = await update({ appUrl: null, smtpHostname: null, smtpPort: null, smtpUsername: null, smtpFrom: null });
    expect(cleared).toMatchObject({ appUrl: null, smtpHostname: null, smtpPort: null, smtpUsername: null, smtpFrom: null });
  });

  it.each([
    ['appUrl', 'ftp://files.example.com'],
    ['appUrl', 'not a url'],
    ['appUrl', `https://example.com/${'x'.repeat(2048)}`],
    ['smtpHostname', 'bad host!'],
    ['smtpHostname', 'h'.repeat(254)],
    ['smtpPort', 0],
    ['smtpPort', 65536],
    ['smtpPort', -25],
    ['smtpUsername', 'u'.repeat(257)],
    ['smtpPassword', 'p'.repeat(1025)],
    ['smtpFrom', 'nobody'],
    ['smtpFrom', 'Name <not an address>'],
    ['smtpTls', null],
    ['signupEnabled', null],
    ['signinIpLimit', 0],
    ['signinIpLimit', null],
    ['signinIpFailureLimit', 0],
    ['signinIpWindowSeconds', 86_401],
    ['signinAccountLimit', 1_000_001],
    ['signinAccountLockoutSeconds', 0],
    ['signinAccountMaxLockoutSeconds', null],
    ['signinAccountWindowSeconds', 86_401],
    ['emailIpLimit', -1],
    ['emailAccountLimit', 0],
    ['emailWindowSeconds', 0],
    ['callLogRetentionDays', 3651],
    ['notificationRetentionDays', 0],
  ])('refuses %s = %j with ValidationError and writes nothing', async (name, value) => {
    const before = await read();
    // A valid change in the same input must not be written either.
    // Values the GraphQL input type accepts but the setting's rule refuses.
    const refused = member(await answer({ emailIpLimit: 77, [name]: value }), 'ValidationError');
    expect(refused).toMatchObject({ code: 'INVALID_INPUT', status: 400, field: name });
    expect(refused.message).toContain(`"${name}"`);
    expect(await read()).toEqual(before);
  });

  it('refuses values of the wrong type with a 400 GraphQL error and writes nothing', async () => {
    const before = await read();
    for (const input of [{ smtpTls: 'SSL' }, { smtpPort: 'twenty-five' }, { signupEnabled: 'yes' }, { smtpPort: 1.5 }, { noSuchSetting: 1 }]) {
      // Values of the wrong GraphQL type, so the document goes as plain text.
      const result = await gql(gw, print(UPDATE), { input }, root);
      expect(result.status, JSON.stringify(input)).toBe(400);
      expect(result.data).toBeUndefined();
      expect(result.errors?.[0]?.extensions).toMatchObject({ status: 400 });
    }
    expect(await read()).toEqual(before);
  });

  it('is refused to everyone but admins', async () => {
    const admin = await createSignedInUser(gw, root, { permissions: ['admin'] });
    const plain = await createSignedInUser(gw, root);
    const adminToken = await createApiToken(gw, admin.token);
    expect((await read(admin.token)).signupEnabled).toBe(true);
    expect((await update({ emailIpLimit: 11 }, admin.token)).emailIpLimit).toBe(11);
    const before = await read();
    for (const [token, code] of [
      [plain.token, 'FORBIDDEN'],
      [adminToken.token, 'FORBIDDEN'],
      [null, 'UNAUTHENTICATED'],
    ] as const) {
      const reading = await gql(gw, READ, {}, token);
      expect(reading.data).toBeNull();
      expect(reading.errors?.map((error) => error.extensions.code)).toEqual([code]);
      const writing = await gql(gw, UPDATE, { input: { emailIpLimit: 12 } }, token);
      expect(writing.data).toBeNull();
      expect(writing.errors?.map((error) => error.extensions.code)).toEqual([code]);
    }
    expect(await read()).toEqual(before);
  });
});

describe('the settings catalogue', () => {
  const columns = getTableColumns(settingsTable);
  const COLUMN_TYPES = { text: 'PgText', integer: 'PgInteger', boolean: 'PgBoolean', enum: 'PgText', json: 'PgJsonb' } as const;

  it('describes exactly the columns of the settings table, each with a column type that holds it', () => {
    const settingColumns = Object.keys(columns).filter((name) => name !== 'id' && name !== 'updatedAt');
    expect(SETTINGS.map((setting) => setting.name).sort()).toEqual(settingColumns.sort());
    for (const setting of SETTINGS) {
      const column = columns[setting.name];
      expect(column.columnType, setting.name).toBe(COLUMN_TYPES[setting.kind]);
      expect(setting.nullable, setting.name).toBe(!column.notNull);
      // The one settings row is inserted with defaults, so every required setting needs one.
      if (!setting.nullable) expect(setting.default, setting.name).not.toBeNull();
    }
  });

  it('names every setting in v1 in snake_case, each name once', () => {
    const v1Names = SETTINGS.map((setting) => setting.v1Name);
    expect(new Set(v1Names).size).toBe(SETTINGS.length);
    for (const name of v1Names) expect(name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    expect(SETTINGS.find((setting) => setting.name === 'smtpPassword')).toMatchObject({ v1Name: 'smtp_password', secret: true, readName: 'smtpPasswordSet' });
  });
});

describe('SMTP_URL parsing', () => {
  it('fills in the port and TLS mode from the scheme', () => {
    expect(smtpSettingsFromUrl('smtp://mail.example.com')).toEqual({
      smtpHostname: 'mail.example.com',
      smtpPort: 587,
      smtpUsername: null,
      smtpPassword: null,
      smtpTls: 'starttls',
    });
    expect(smtpSettingsFromUrl('smtps://user:secret@mail.example.com')).toEqual({
      smtpHostname: 'mail.example.com',
      smtpPort: 465,
      smtpUsername: 'user',
      smtpPassword: 'secret',
      smtpTls: 'tls',
    });
    expect(smtpSettingsFromUrl(undefined)).toEqual({});
  });
});
