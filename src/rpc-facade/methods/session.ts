import { heldPermissionMap } from '../../domain/permissions.ts';
import { graphql, readFragment, type FragmentOf } from '../graphql.ts';
import { ErrorFields, v1Method, type V1Method } from '../method.ts';
import { ok } from '../result.ts';

const ViewerFields = graphql(`
  fragment ViewerFields on Viewer { permissions user { id name avatar } }
`);

/** The `auth` object of sign-in results. */
function auth(fragment: FragmentOf<typeof ViewerFields>) {
  const viewer = readFragment(ViewerFields, fragment);
  return {
    user_id: viewer.user.id,
    username: viewer.user.name,
    permissions: heldPermissionMap(viewer.permissions),
    avatar: viewer.user.avatar,
  };
}

const SignIn = graphql(
  `
    mutation SignIn($input: SignInInput!) {
      signIn(input: $input) {
        ...ErrorFields
        ... on RateLimitedError { retryAfterSeconds }
        ... on SignInPayload { token viewer { ...ViewerFields } }
      }
    }
  `,
  [ErrorFields, ViewerFields],
);

const Resume = graphql(
  `
    mutation Resume($required: [String!]) {
      resumeSession(requiredPermissions: $required) { ...ErrorFields ... on ViewerPayload { viewer { ...ViewerFields } } }
    }
  `,
  [ErrorFields, ViewerFields],
);

export const sessionMethods: V1Method[] = [
  v1Method({
    id: '/v1/session/signin',
    permission: '*',
    title: 'Signin',
    params: [
      {
        name: 'credentials',
        required: false,
        schema: {
          type: 'object',
          properties: { username: { type: 'string' }, password: { type: 'string' } },
          required: ['username', 'password'],
          additionalProperties: false,
        },
        description: 'Sign in with a username and password; without it, the token in use is checked.',
      },
      {
        name: 'signin_permissions',
        required: false,
        schema: { anyOf: [{ type: 'null' }, { type: 'array', items: { type: 'string' } }] },
        description: 'Only a user holding one of these permissions may sign in; null or [] checks nothing.',
      },
    ],
    document: [SignIn, Resume],
    plan: ([credentials, required]) => {
      const requiredPermissions = (required as string[] | null | undefined) ?? null;
      if (!credentials) return { operation: 'Resume', variables: { required: requiredPermissions } };
      const { username, password } = credentials as { username: string; password: string };
      return { operation: 'SignIn', variables: { input: { username, password, requiredPermissions } } };
    },
    result: (data) => {
      if ('resumeSession' in data) return ok({ auth: auth(data.resumeSession.viewer), settings: {} });
      const { token, viewer } = data.signIn;
      return ok({ token, auth: auth(viewer), settings: {} });
    },
  }),
  v1Method({
    id: '/v1/session/signout',
    permission: '*',
    title: 'Signout',
    params: [],
    document: graphql(`mutation SignOut { signOut { ...ErrorFields } }`, [ErrorFields]),
    plan: () => ({ variables: {} }),
    result: () => ok(),
  }),
  v1Method({
    id: '/v1/session/signup',
    permission: '*',
    title: 'Signup',
    params: [
      {
        name: 'fields',
        required: true,
        schema: {
          type: 'object',
          properties: {
            username: { type: 'string' },
            password: { type: 'string' },
            email: { type: 'string' },
            telegram_name: { type: 'string' },
            // Older clients send these; `telegram_username` is an alias, the others are ignored.
            telegram_username: { type: 'string' },
            enabled: { type: 'boolean' },
            permissions: { type: 'object' },
          },
          required: ['username'],
          additionalProperties: false,
        },
      },
    ],
    document: graphql(`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...ErrorFields } }`, [ErrorFields]),
    plan: ([fields]) => {
      const given = fields as { username: string; password?: string; email?: string; telegram_name?: string; telegram_username?: string };
      return {
        variables: {
          input: {
            username: given.username,
            password: given.password ?? '',
            email: given.email || null,
            telegramName: given.telegram_name || given.telegram_username || null,
          },
        },
      };
    },
    result: () => ok(undefined, undefined, 'You were registered.'),
  }),
  v1Method({
    id: '/v1/session/send-confirmation-email',
    permission: '*',
    title: 'Send confirmation email',
    params: [{ name: 'user_id', required: true, schema: { type: 'string' }, description: 'User name or email.' }],
    // Always 200 (decisions.md): the answer tells nothing about the account.
    document: graphql(`mutation SendConfirmationEmail($user: String!) { sendConfirmationEmail(user: $user) { accepted } }`),
    plan: ([user]) => ({ variables: { user: user as string } }),
    result: () => ok(),
  }),
  v1Method({
    id: '/v1/session/confirm-email-by-token',
    permission: '*',
    title: 'Confirm user email using email confirmation token',
    params: [{ name: 'token', required: true, schema: { type: 'string' }, description: 'Email confirmation token.' }],
    document: graphql(`mutation ConfirmEmailByToken($token: String!) { confirmEmail(token: $token) { ...ErrorFields } }`, [ErrorFields]),
    plan: ([token]) => ({ variables: { token: token as string } }),
    result: () => ok(null, { rows: 1 }),
  }),
  v1Method({
    id: '/v1/session/send-password-reset-email',
    permission: '*',
    title: 'Send password reset email',
    params: [{ name: 'user_id', required: true, schema: { type: 'string' }, description: 'User name or email.' }],
    document: graphql(`mutation SendPasswordResetEmail($user: String!) { sendPasswordResetEmail(user: $user) { accepted } }`),
    plan: ([user]) => ({ variables: { user: user as string } }),
    result: () => ok(),
  }),
  v1Method({
    id: '/v1/session/set-password-by-token',
    permission: '*',
    title: 'Set user password using password recovery token',
    params: [
      { name: 'token', required: true, schema: { type: 'string' }, description: 'Password recovery token.' },
      { name: 'password', required: true, schema: { type: 'string' }, description: 'The new password, 8–1024 characters.' },
    ],
    document: graphql(
      `mutation SetPasswordByToken($token: String!, $password: String!) { resetPassword(token: $token, password: $password) { ...ErrorFields } }`,
      [ErrorFields],
    ),
    plan: ([token, password]) => ({ variables: { token: token as string, password: password as string } }),
    result: () => ok(),
  }),
];
