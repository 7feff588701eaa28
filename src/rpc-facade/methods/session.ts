import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { ok } from '../result.ts';
import { toPermissionMap } from './shared.ts';

interface Viewer {
  permissions: string[];
  user: { id: string; name: string; avatar: string };
}

const VIEWER_FIELDS = 'permissions user { id name avatar }';

/** The `auth` object of sign-in results. */
function auth(viewer: Viewer) {
  return {
    user_id: viewer.user.id,
    username: viewer.user.name,
    permissions: toPermissionMap(viewer.permissions),
    avatar: viewer.user.avatar,
  };
}

export const sessionMethods: V1Method[] = [
  {
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
    document: `mutation SignIn($input: SignInInput!) {
      signIn(input: $input) {
        ${ERROR_FIELDS} ... on RateLimitedError { retryAfterSeconds }
        ... on SignInPayload { token viewer { ${VIEWER_FIELDS} } }
      }
    }
    mutation Resume($required: [String!]) {
      resumeSession(requiredPermissions: $required) { ${ERROR_FIELDS} ... on ViewerPayload { viewer { ${VIEWER_FIELDS} } } }
    }`,
    plan: ([credentials, required]) => {
      const requiredPermissions = (required as string[] | null | undefined) ?? null;
      if (!credentials) return { operation: 'Resume', variables: { required: requiredPermissions } };
      const { username, password } = credentials as { username: string; password: string };
      return { operation: 'SignIn', variables: { input: { username, password, requiredPermissions } } };
    },
    result: (data, _call, plan) => {
      if (plan.operation === 'Resume') {
        return ok({ auth: auth((data.resumeSession as { viewer: Viewer }).viewer), settings: {} });
      }
      const { token, viewer } = data.signIn as { token: string; viewer: Viewer };
      return ok({ token, auth: auth(viewer), settings: {} });
    },
  },
  {
    id: '/v1/session/signout',
    permission: '*',
    title: 'Signout',
    params: [],
    document: `mutation SignOut { signOut { ${ERROR_FIELDS} } }`,
    plan: () => ({ variables: {} }),
    result: () => ok(),
  },
  {
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
    document: `mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ${ERROR_FIELDS} } }`,
    plan: ([fields]) => {
      const given = fields as Record<string, string | undefined>;
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
  },
];
