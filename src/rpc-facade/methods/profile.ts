import { heldPermissionMap } from '../../domain/permissions.ts';
import { graphql } from '../graphql.ts';
import { ErrorFields, v1Method, type V1Method } from '../method.ts';
import { failure, ok, RpcCode } from '../result.ts';

export const profileMethods: V1Method[] = [
  v1Method({
    id: '/v1/profile/read',
    permission: 'user',
    title: 'Read user profile',
    params: [],
    document: graphql(`query ProfileRead { viewer { permissions user { id name email emailConfirmed telegramName avatar } } }`),
    plan: () => ({ variables: {} }),
    result: ({ viewer }) => {
      // Only guests have no viewer, and the method's permission (`user`) turns them away first.
      if (!viewer) return failure(RpcCode.permissionDenied);
      const { user } = viewer;
      return ok({
        id: user.id,
        name: user.name,
        email: user.email,
        email_confirmed: user.emailConfirmed,
        telegram_name: user.telegramName,
        avatar: user.avatar,
        permissions: heldPermissionMap(viewer.permissions),
      });
    },
  }),
  v1Method({
    id: '/v1/profile/set-password',
    permission: 'user',
    title: 'Set user password',
    params: [{ name: 'password', required: true, schema: { type: 'string' }, description: 'New password; "" generates one.' }],
    document: graphql(
      `
        mutation ProfileSetPassword($password: String) {
          changePassword(password: $password) { ...ErrorFields ... on PasswordPayload { password } }
        }
      `,
      [ErrorFields],
    ),
    plan: ([password]) => ({ variables: { password: (password as string) || null } }),
    result: (data) => ok({ password: data.changePassword.password }),
  }),
  v1Method({
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
    document: graphql(`mutation ProfileSetEmail($email: String) { setEmail(email: $email) { ...ErrorFields } }`, [ErrorFields]),
    plan: ([email]) => ({ variables: { email: (email as string | undefined) || null } }),
    result: () => ok(null, { rows: 1 }),
  }),
  v1Method({
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
    document: graphql(
      `
        mutation ProfileSetTelegramUsername($name: String) {
          setTelegramUsername(telegramUsername: $name) { ...ErrorFields }
        }
      `,
      [ErrorFields],
    ),
    plan: ([name]) => ({ variables: { name: (name as string | undefined) || null } }),
    result: () => ok(null, { rows: 1 }),
  }),
  v1Method({
    id: '/v1/profile/delete-sessions',
    permission: 'user',
    title: 'Delete sessions',
    params: [],
    document: graphql(`mutation ProfileDeleteSessions { deleteOtherSessions { deletedCount } }`),
    plan: () => ({ variables: {} }),
    result: (data) => ok(null, { rows: data.deleteOtherSessions.deletedCount }),
  }),
];
