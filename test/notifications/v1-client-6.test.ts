import Api from 'sv6/api';
import { defineNotificationsV1Suite } from '../helpers/notifications-v1.ts';
import type { V1Client } from '../helpers/v1-conformance.ts';

/** v1 notifications with the published client 6.76.2, embedded (7.143.0 runs on PostgreSQL and Redis). */
defineNotificationsV1Suite({ version: '6.76.2', create: (url, token) => Api.new(url, { token }) as V1Client }, 'embedded');
