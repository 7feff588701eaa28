import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { ok } from '../result.ts';
import { toPermissionMap } from './shared.ts';

export const profileMethods: V1Method[] = [
  {
    id: '/v1/profile/read',
    permission: 'user',
    title: 'Read user profile',
    params: [],
    document: 'query ProfileRead { viewer { permissions user { id name email emailConfirmed telegramName avatar } } }',
    plan: () => ({ variables: {} }),
    result: (data) => {
      const viewer = data.viewer as {
        permissions: string[];
        user: { id: string; name: string; email: string | null; emailConfirmed: boolean; telegramName: string | null; avatar: string };
      };
      const { user } = viewer;
      return ok({
        id: user.id,
        name: user.name,
        email: user.email,
        email_confirmed: user.emailConfirmed,
        telegram_name: user.telegramName,
        avatar: user.avatar,
        permissions: toPermissionMap(viewer.permissions),
      });
    },
  },
  {
    id: '/v1/profile/set-password',
    permission: 'user',
    title: 'Set user password',
    params: [{ name: 'password', required: true, schema: { type: 'string' }, description: 'New password; "" generates one.' }],
    document: `mutation ProfileSetPassword($password: String) {
      changePassword(password: $password) { ${ERROR_FIELDS} ... on PasswordPayload { password } }
    }`,
    plan: ([password]) => ({ variables: { password: password || null } }),
    result: (data) => ok({ password: (data.changePassword as { password: string }).password }),
  },
  {
    id: '/v1/profile/set-email',
    permission: 'user',
    title: 'Set user email',
    params: [
      {
        name: 'email',
        required: false,
        schema: { type: 'string' },
        description: 'Email address to set; when not given, the current address is removed.',
      },
    ],
    document: `mutation ProfileSetEmail($email: String) { setEmail(email: $email) { ${ERROR_FIELDS} } }`,
    plan: ([email]) => ({ variables: { email: email || null } }),
    result: () => ok(null, { rows: 1 }),
  },
  {
    id: '/v1/profile/set-telegram-username',
    permission: 'user',
    title: 'Set user telegram name',
    params: [
      {
        name: 'telegram_username',
        required: false,
        schema: { type: 'string' },
        description: 'Telegram username to set; when not given, the current one is removed.',
      },
    ],
    document: `mutation ProfileSetTelegramUsername($name: String) { setTelegramUsername(telegramUsername: $name) { ${ERROR_FIELDS} } }`,
    plan: ([name]) => ({ variables: { name: name || null } }),
    result: () => ok(null, { rows: 1 }),
  },
  {
    id: '/v1/profile/delete-sessions',
    permission: 'user',
    title: 'Delete sessions',
    params: [],
    document: 'mutation ProfileDeleteSessions { deleteOtherSessions { deletedCount } }',
    plan: () => ({ variables: {} }),
    result: (data) => ok(null, { rows: (data.deleteOtherSessions as { deletedCount: number }).deletedCount }),
  },
];
