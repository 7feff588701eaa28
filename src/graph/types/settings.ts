import { ValidationError } from '../../domain/errors.ts';
import { enumValueName, SETTINGS, type Setting, type SettingsPatch, type SettingsView } from '../../domain/settings.ts';
import { builder } from '../builder.ts';

const settingEnum = (name: string, values: readonly string[]) =>
  builder.enumType(name, { values: Object.fromEntries(values.map((value) => [enumValueName(value), { value }])) });

/** One GraphQL enum per enum setting, its values named by `enumValueName`. */
const enumTypes = new Map(
  SETTINGS.flatMap((setting) => (setting.kind === 'enum' ? [[setting.name, settingEnum(setting.graphqlName, setting.values)] as const] : [])),
);

/** The GraphQL enum of an enum setting (`SmtpTls`), for other inputs that take the same values. */
export function settingEnumType(name: Setting['name']) {
  const type = enumTypes.get(name);
  if (!type) throw new Error(`setting ${name} is not an enum`);
  return type;
}

function graphqlType(setting: Setting) {
  switch (setting.kind) {
    case 'text':
      return 'String' as const;
    case 'integer':
      return 'Int' as const;
    case 'boolean':
      return 'Boolean' as const;
    case 'enum':
      return enumTypes.get(setting.name)!;
  }
}

function describe(setting: Setting): string {
  if (setting.default === null) return setting.description;
  const shown = setting.kind === 'enum' ? enumValueName(String(setting.default)) : JSON.stringify(setting.default);
  return `${setting.description} Default: ${shown}.`;
}

const SettingsRef = builder.objectRef<SettingsView>('Settings').implement({
  description: 'Application settings. Secrets are never returned, only whether they are set.',
  fields: (t) => ({
    ...Object.fromEntries(
      SETTINGS.map((setting) =>
        setting.secret
          ? [
              setting.readName,
              t.boolean({
                description: `Whether a value is set: ${setting.description}`,
                resolve: (view) => (view as unknown as Record<string, boolean>)[setting.readName]!,
              }),
            ]
          : [
              setting.name,
              t.field({
                type: graphqlType(setting),
                nullable: setting.nullable,
                description: describe(setting),
                resolve: (view) => (view as unknown as Record<string, never>)[setting.name] as never,
              }),
            ],
      ),
    ),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SettingsInput = builder.inputType('SettingsInput', {
  description: 'A partial update: omitted fields stay as they are; null clears a nullable setting.',
  fields: (t) =>
    Object.fromEntries(
      SETTINGS.map((setting) => [
        setting.name,
        t.field({ type: graphqlType(setting), description: setting.secret ? `${setting.description} Write-only.` : describe(setting) }),
      ]),
    ),
});

const SettingsPayload = builder.objectRef<{ settings: SettingsView }>('SettingsPayload').implement({
  fields: (t) => ({ settings: t.expose('settings', { type: SettingsRef }) }),
});

const adminOnly = { permission: 'admin' } as const;

builder.queryField('settings', (t) =>
  t.field({
    type: SettingsRef,
    description: 'Admins only.',
    authScopes: adminOnly,
    resolve: (_root, _args, context) => context.domain.settings.view(),
  }),
);

builder.mutationField('updateSettings', (t) =>
  t.field({
    type: SettingsPayload,
    description: 'Changes the given settings; each is validated, nothing is written when one is invalid. Admins only.',
    authScopes: adminOnly,
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: SettingsInput, required: true }) },
    resolve: async (_root, { input }, context) => ({ settings: await context.domain.settings.update(input as SettingsPatch) }),
  }),
);
