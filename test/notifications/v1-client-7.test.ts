import Api from '@softvisio/core/api';
import { defineNotificationsV1Suite } from '../helpers/notifications-v1.ts';
import type { V1Client } from '../helpers/v1-conformance.ts';

/** v1 notifications with the published client 7.143.0, on PostgreSQL and Redis (6.76.2 runs embedded). */
defineNotificationsV1Suite({ version: '7.143.0', create: (url, token) => new Api(url, { token }) as V1Client }, 'production');
