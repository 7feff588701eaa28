import type { V1Method } from '../method.ts';
import { adminApiCallLogMethods } from './admin-api-call-log.ts';
import { adminSettingsMethods } from './admin-settings.ts';
import { adminUsersMethods } from './admin-users.ts';
import { apiTokensMethods } from './api-tokens.ts';
import { notificationsMethods } from './notifications.ts';
import { profileMethods } from './profile.ts';
import { sessionMethods } from './session.ts';
import { testMethods } from './test.ts';

/** Every v1 method the gateway serves: the one source of ids, permissions, parameters and mappings. */
export const V1_METHODS: readonly V1Method[] = [
  ...adminApiCallLogMethods,
  ...adminSettingsMethods,
  ...adminUsersMethods,
  ...apiTokensMethods,
  ...notificationsMethods,
  ...profileMethods,
  ...sessionMethods,
  ...testMethods,
];
