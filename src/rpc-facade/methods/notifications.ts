import { apiReadSchema, parseApiRead, readResult, type ApiReadSpec } from '../api-read.ts';
import { graphql } from '../graphql.ts';
import { v1Method, type V1Method } from '../method.ts';
import { ok } from '../result.ts';

/**
 * `notifications/*` (protocol.md §4.5 with decisions.md): permission `*`, always the caller's own
 * notifications. Guests have none: reads answer no rows, changes change nothing.
 */

const READ_SPEC: ApiReadSpec = {
  fields: {
    id: { type: 'string', conditions: ['='], sortable: true },
    read: { type: 'boolean', conditions: ['='] },
    date: { sortable: true },
  },
  defaultOrder: [['date', 'desc']],
  byId: true,
};

const SORT_FIELDS = { id: 'ID', date: 'CREATED_AT' } as const;

/** `notifications`: ids of the caller's notifications; omitted or null means all of them. */
const NOTIFICATION_IDS = {
  name: 'notifications',
  required: false,
  schema: { type: 'array', items: { type: 'string' }, minItems: 1 },
  description: "Ids of the caller's notifications; omitted or null: all of them.",
} as const;

const NOBODY = ok(null, { rows: 0 });

/** mark-read, mark-unread and delete: one mutation for listed ids, one for all; `meta.rows` is how many changed. */
function changeMethod(action: 'mark-read' | 'mark-unread' | 'delete', title: string, listed: string, all: string): V1Method {
  return v1Method({
    id: `/v1/notifications/${action}`,
    permission: '*',
    title,
    params: [NOTIFICATION_IDS],
    document: [`mutation Listed($ids: [ID!]!) { ${listed}(ids: $ids) { changedCount } }`, `mutation All { ${all} { changedCount } }`],
    plan: ([ids], call) => {
      if (call.principal.kind === 'guest') return NOBODY;
      return Array.isArray(ids) ? { operation: 'Listed', variables: { ids: ids.map(String) } } : { operation: 'All', variables: {} };
    },
    result: (data) => {
      const [payload] = Object.values(data) as { changedCount: number }[];
      return ok(null, { rows: payload!.changedCount });
    },
  });
}

export const notificationsMethods: V1Method[] = [
  v1Method({
    id: '/v1/notifications/read',
    permission: '*',
    title: 'Read notifications',
    params: [{ name: 'options', required: false, schema: apiReadSchema(READ_SPEC) }],
    document: graphql(`
      query NotificationsRead($first: Int, $offset: Int, $filter: NotificationFilter, $orderBy: [NotificationOrder!]) {
        notifications(first: $first, offset: $offset, filter: $filter, orderBy: $orderBy) {
          totalCount
          edges { node { id subject body read createdAt } }
        }
      }
    `),
    plan: ([options], call) => {
      const query = parseApiRead(options, READ_SPEC);
      if (call.principal.kind === 'guest') return query.id !== null ? ok(null) : ok(null, readResult([], 0).meta);
      const filter: { id?: string; read?: boolean } = {};
      if (query.where.id) filter.id = String(query.where.id.value);
      if (query.where.read) filter.read = query.where.read.value as boolean;
      if (query.id !== null) filter.id = query.id;
      return {
        single: query.id !== null,
        variables: {
          first: query.id !== null ? 1 : query.limit,
          offset: query.id !== null ? 0 : query.offset,
          filter,
          orderBy: query.order.map(([field, direction]) => ({
            field: SORT_FIELDS[field as keyof typeof SORT_FIELDS],
            direction: direction === 'asc' ? ('ASC' as const) : ('DESC' as const),
          })),
        },
      };
    },
    result: ({ notifications }, _call, plan) => {
      const rows = notifications.edges.map(({ node }) => ({ id: node.id, date: node.createdAt, subject: node.subject, body: node.body, read: node.read }));
      if (plan.single) return ok(rows[0] ?? null);
      const { data, meta } = readResult(rows, notifications.totalCount);
      return ok(data, meta);
    },
  }),
  changeMethod('mark-read', 'Mark notifications read', 'markNotificationsRead', 'markAllNotificationsRead'),
  changeMethod('mark-unread', 'Mark notifications unread', 'markNotificationsUnread', 'markAllNotificationsUnread'),
  changeMethod('delete', 'Delete notifications', 'deleteNotifications', 'deleteAllNotifications'),
];
