import { ValidationError } from '../../domain/errors.ts';
import type { ChangeResult, NotificationSortField, NotificationView, SendResult } from '../../domain/notifications.ts';
import { builder } from '../builder.ts';
import { offsetConnection } from '../connections.ts';
import { actorOf, OrderDirection, sortOrders } from './common.ts';

export const NotificationRef = builder.objectRef<NotificationView>('Notification').implement({
  description: 'A notification as its recipient sees it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Grows with creation: pass the last one seen as `notificationAdded(after:)` to resume.' }),
    subject: t.exposeString('subject', { description: 'One line.' }),
    body: t.exposeString('body', { description: 'Plain text.' }),
    read: t.exposeBoolean('read', { description: 'Whether the viewer marked it read.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was sent.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it goes away (by default `notificationRetentionDays` after it was sent).',
    }),
  }),
});

const NotificationOrderField = builder.enumType('NotificationOrderField', {
  values: { ID: { value: 'id' }, CREATED_AT: { value: 'createdAt' } } as const,
});

const NotificationOrder = builder.inputType('NotificationOrder', {
  fields: (t) => ({
    field: t.field({ type: NotificationOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'asc' }),
  }),
});

const NotificationFilter = builder.inputType('NotificationFilter', {
  fields: (t) => ({
    read: t.boolean({ description: 'Only read (true) or only unread (false) notifications.' }),
    id: t.id({ description: 'Only the notification with this id.' }),
  }),
});

const signedIn = { user: true } as const;

builder.queryFields((t) => ({
  notifications: t.connection(
    {
      type: NotificationRef,
      description: "The viewer's notifications (not deleted, not expired), newest first unless ordered otherwise.",
      authScopes: signedIn,
      args: {
        offset: t.arg.int({ description: 'Skip this many notifications (after `after`, when given).' }),
        filter: t.arg({ type: NotificationFilter }),
        orderBy: t.arg({ type: [NotificationOrder] }),
      },
      resolve: (_root, args, context) => {
        const owner = actorOf(context);
        const filter = { id: args.filter?.id?.toString(), read: args.filter?.read };
        const order = sortOrders<NotificationSortField>(args.orderBy, { field: 'id', direction: 'desc' });
        return offsetConnection(args, {
          count: () => context.domain.notifications.count(owner, filter),
          page: (offset, limit) => context.domain.notifications.list(owner, filter, order, { offset, limit }),
        });
      },
    },
    {
      name: 'NotificationConnection',
      fields: (t) => ({
        unreadCount: t.int({
          description: "The viewer's unread notifications, whatever the filter.",
          resolve: (_connection, _args, context) => context.domain.notifications.unreadCount(actorOf(context)),
        }),
      }),
    },
    { name: 'NotificationEdge' },
  ),
}));

const NotificationsChangedPayload = builder.objectRef<ChangeResult>('NotificationsChangedPayload').implement({
  description: 'What a change to the viewer’s notifications did.',
  fields: (t) => ({
    changedCount: t.exposeInt('changedCount', { description: 'Notifications whose state changed (ids that are not the viewer’s, or already so, do not count).' }),
    unreadCount: t.exposeInt('unreadCount', { description: "The viewer's unread count afterwards." }),
  }),
});

const SendNotificationPayload = builder.objectRef<SendResult>('SendNotificationPayload').implement({
  description: 'The outcome of sending a notification.',
  fields: (t) => ({
    recipients: t.exposeInt('recipients', { description: 'How many users received it.' }),
    unknownUserIds: t.exposeIDList('unknownUserIds', { description: 'Given ids that name no user; everybody else received it.' }),
    notificationId: t.exposeID('notificationId', { nullable: true, description: 'The new notification; null when nobody received it.' }),
  }),
});

const SendNotificationInput = builder.inputType('SendNotificationInput', {
  fields: (t) => ({
    userIds: t.idList({ required: true, description: 'Recipients (at most 100,000); duplicates count once.' }),
    subject: t.string({ required: true, description: 'One line, 1 to 255 characters.' }),
    body: t.string({ required: true, description: 'Plain text, at most 10,000 characters.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When it goes away; default `notificationRetentionDays` from now.' }),
  }),
});

const ids = (given: readonly (string | number | bigint)[]) => given.map(String);

builder.mutationFields((t) => ({
  markNotificationsRead: t.field({
    type: NotificationsChangedPayload,
    description: "Marks the given notifications of the viewer read.",
    authScopes: signedIn,
    args: { ids: t.arg.idList({ required: true, description: "Ids of the viewer's notifications; others are ignored." }) },
    resolve: (_root, args, context) => context.domain.notifications.setRead(actorOf(context), ids(args.ids), true),
  }),
  markNotificationsUnread: t.field({
    type: NotificationsChangedPayload,
    description: "Marks the given notifications of the viewer unread.",
    authScopes: signedIn,
    args: { ids: t.arg.idList({ required: true, description: "Ids of the viewer's notifications; others are ignored." }) },
    resolve: (_root, args, context) => context.domain.notifications.setRead(actorOf(context), ids(args.ids), false),
  }),
  deleteNotifications: t.field({
    type: NotificationsChangedPayload,
    description: 'Deletes the given notifications for the viewer only; other recipients keep theirs.',
    authScopes: signedIn,
    args: { ids: t.arg.idList({ required: true, description: "Ids of the viewer's notifications; others are ignored." }) },
    resolve: (_root, args, context) => context.domain.notifications.delete(actorOf(context), ids(args.ids)),
  }),
  markAllNotificationsRead: t.field({
    type: NotificationsChangedPayload,
    description: "Marks every notification of the viewer read.",
    authScopes: signedIn,
    resolve: (_root, _args, context) => context.domain.notifications.setRead(actorOf(context), null, true),
  }),
  markAllNotificationsUnread: t.field({
    type: NotificationsChangedPayload,
    description: "Marks every notification of the viewer unread.",
    authScopes: signedIn,
    resolve: (_root, _args, context) => context.domain.notifications.setRead(actorOf(context), null, false),
  }),
  deleteAllNotifications: t.field({
    type: NotificationsChangedPayload,
    description: 'Deletes every notification of the viewer, for the viewer only.',
    authScopes: signedIn,
    resolve: (_root, _args, context) => context.domain.notifications.delete(actorOf(context), null),
  }),
  sendNotification: t.field({
    type: SendNotificationPayload,
    description: 'Sends a notification to users (admins). Ids that name no user are reported; the others receive it.',
    authScopes: { permission: 'admin' },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: SendNotificationInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.domain.notifications.send({ userIds: ids(input.userIds), subject: input.subject, body: input.body, expiresAt: input.expiresAt ?? null }),
  }),
}));

const NotificationCount = builder.objectRef<{ unreadCount: number }>('NotificationCount').implement({
  description: "The viewer's unread notifications.",
  fields: (t) => ({
    unreadCount: t.exposeInt('unreadCount', { description: 'Unread, not deleted, not expired.' }),
  }),
});

builder.subscriptionFields((t) => ({
  notificationAdded: t.field({
    type: NotificationRef,
    description:
      "The viewer's new notifications. With `after`, first those newer than that id (oldest first), then live: nothing missed, nothing twice.",
    authScopes: signedIn,
    args: { after: t.arg.id({ description: 'The last notification id the client has; resume from there.' }) },
    subscribe: (_root, { after }, context) => context.domain.notifications.added(actorOf(context), after === null || after === undefined ? null : String(after)),
    resolve: (notification) => notification,
  }),
  notificationsChanged: t.field({
    type: NotificationCount,
    description: "The viewer's unread count: at once, then after every change (new, read, unread, deleted).",
    authScopes: signedIn,
    subscribe: (_root, _args, context) => context.domain.notifications.unreadCounts(actorOf(context)),
    resolve: (count) => count,
  }),
}));
