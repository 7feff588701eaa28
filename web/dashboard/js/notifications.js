// The inbox: a live unread badge (`notificationsChanged`), new items as they arrive
// (`notificationAdded(after:)`, resumed from the newest id seen, so a reconnect misses nothing and
// shows nothing twice), read / unread / delete / mark all read, and for admins a form to send one.
import { byId, debounce, h, say, timeEl } from './dom.js';

const FIELDS = 'id subject body read createdAt expiresAt';
const LIST = `query DashboardNotifications($first: Int, $after: String, $filter: NotificationFilter) {
  notifications(first: $first, after: $after, filter: $filter) {
    totalCount unreadCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${FIELDS} } }
  }
}`;
const ADDED = `subscription DashboardNotificationAdded($after: ID) { notificationAdded(after: $after) { ${FIELDS} } }`;
const CHANGED = `subscription DashboardNotificationsChanged { notificationsChanged { unreadCount } }`;
const MUTATIONS = {
  read: `mutation DashboardMarkRead($ids: [ID!]!) { markNotificationsRead(ids: $ids) { changedCount unreadCount } }`,
  unread: `mutation DashboardMarkUnread($ids: [ID!]!) { markNotificationsUnread(ids: $ids) { changedCount unreadCount } }`,
  delete: `mutation DashboardDelete($ids: [ID!]!) { deleteNotifications(ids: $ids) { changedCount unreadCount } }`,
};
const MARK_ALL = `mutation DashboardMarkAllRead { markAllNotificationsRead { changedCount unreadCount } }`;
const SUGGEST = `query DashboardSuggestUsers($search: String) { suggestUsers(search: $search, first: 10) { id name } }`;
const SEND = `mutation DashboardSend($input: SendNotificationInput!) {
  sendNotification(input: $input) {
    __typename
    ... on SendNotificationPayload { recipients unknownUserIds }
    ... on Error { message }
  }
}`;
const PAGE = 50;

/** Orders ids newest first: the API's ids grow with time; compared as numbers when they are. */
function newer(a, b) {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a > b;
}

export class NotificationsView {
  #api;
  #onUnread;
  #items = new Map(); // id → notification, the loaded ones
  #order = []; // ids, newest first
  #endCursor = null;
  #hasMore = false;
  /** Variables of the live subscription; `after` moves with every item seen (see Api.subscribe). */
  #resume = { after: null };
  #stops = [];
  #admin = false;
  #recipients = new Map(); // id → name
  #suggested = new Map(); // name → id
  #refreshSoon = debounce(() => void this.#load(), 250);

  constructor(api, { onUnread }) {
    this.#api = api;
    this.#onUnread = onUnread;
    byId('mark-all-read').addEventListener('click', () => void this.#markAll());
    byId('unread-only').addEventListener('change', () => void this.#load());
    byId('notifications-more').addEventListener('click', () => void this.#load(true));
    const to = byId('send-to');
    to.addEventListener('input', debounce(() => void this.#suggest(), 150));
    to.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.#addRecipient();
      }
    });
    byId('send-add').addEventListener('click', () => this.#addRecipient());
    byId('send-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#send();
    });
  }

  /** Starts the badge and live items for a signed-in user (runs while any view is shown). */
  async start({ admin }) {
    this.stop();
    this.#admin = admin;
    byId('send-section').hidden = !admin;
    this.#items.clear();
    this.#order = [];
    this.#resume = { after: null };
    this.#stops.push(
      this.#api.subscribe(CHANGED, {}, {
        next: ({ notificationsChanged }) => {
          this.#onUnread(notificationsChanged.unreadCount);
          // Changes made elsewhere (another tab, an expiry) show up in the list as well.
          if (!byId('notifications-view').hidden) this.#refreshSoon();
        },
      }),
    );
    await this.#load();
    // #load moved `after` to the newest id listed: the live feed replays only what came since.
    this.#stops.push(
      this.#api.subscribe(ADDED, this.#resume, {
        next: ({ notificationAdded }) => this.#added(notificationAdded),
      }),
    );
  }

  show() {
    this.#refreshSoon();
  }

  stop() {
    for (const stop of this.#stops.splice(0)) stop();
  }

  #added(notification) {
    if (!this.#resume.after || newer(notification.id, this.#resume.after)) this.#resume.after = notification.id;
    if (this.#items.has(notification.id)) return;
    this.#items.set(notification.id, notification);
    this.#order.unshift(notification.id);
    this.#order.sort((a, b) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0));
    this.#render();
  }

  async #load(more = false) {
    const message = byId('notifications-message');
    try {
      const filter = byId('unread-only').checked ? { read: false } : undefined;
      const { notifications } = await this.#api.request(LIST, { first: PAGE, after: more ? this.#endCursor : null, filter });
      if (!more) {
        // Keep live items that arrived after this page was read.
        const fresh = new Map(notifications.edges.map(({ node }) => [node.id, node]));
        const newest = notifications.edges[0]?.node.id;
        for (const id of this.#order) if (newest && newer(id, newest) && this.#items.has(id)) fresh.set(id, this.#items.get(id));
        this.#items = fresh;
      } else {
        for (const { node } of notifications.edges) this.#items.set(node.id, node);
      }
      this.#order = [...this.#items.keys()].sort((a, b) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0));
      for (const id of this.#order) if (!this.#resume.after || newer(id, this.#resume.after)) this.#resume.after = id;
      this.#endCursor = notifications.pageInfo.endCursor;
      this.#hasMore = notifications.pageInfo.hasNextPage;
      this.#onUnread(notifications.unreadCount);
      say(message, '');
      this.#render();
    } catch (error) {
      say(message, `Could not load notifications: ${error.message}`, 'error');
    }
  }

  #render() {
    const unreadOnly = byId('unread-only').checked;
    const list = byId('notification-list');
    const ids = this.#order.filter((id) => !unreadOnly || !this.#items.get(id).read);
    list.replaceChildren(...ids.map((id) => this.#itemEl(this.#items.get(id))));
    byId('notifications-empty').hidden = ids.length > 0;
    byId('notifications-more').hidden = !this.#hasMore;
  }

  #itemEl(n) {
    const titleId = `notification-${n.id}-title`;
    return h(
      'li',
      { className: n.read ? 'notification' : 'notification unread', dataset: { id: n.id, read: String(n.read) }, 'aria-labelledby': titleId },
      h('div', { className: 'notification-head' },
        h('h3', { id: titleId }, n.read ? '' : h('span', { className: 'sr-only' }, 'Unread: '), n.subject),
        timeEl(n.createdAt)),
      h('p', { className: 'notification-body' }, n.body),
      n.expiresAt ? h('p', { className: 'hint' }, 'Expires ', timeEl(n.expiresAt)) : null,
      h('div', { className: 'row' },
        h('button', { type: 'button', onclick: () => void this.#change(n.read ? 'unread' : 'read', [n.id]), 'aria-describedby': titleId }, n.read ? 'Mark unread' : 'Mark read'),
        h('button', { type: 'button', className: 'danger', onclick: () => void this.#change('delete', [n.id]), 'aria-describedby': titleId }, 'Delete')),
    );
  }

  async #change(kind, ids) {
    const message = byId('notifications-message');
    try {
      const data = await this.#api.request(MUTATIONS[kind], { ids });
      const result = Object.values(data)[0];
      for (const id of ids) {
        if (kind === 'delete') {
          this.#items.delete(id);
          this.#order = this.#order.filter((other) => other !== id);
        } else if (this.#items.has(id)) {
          this.#items.set(id, { ...this.#items.get(id), read: kind === 'read' });
        }
      }
      this.#onUnread(result.unreadCount);
      say(message, kind === 'delete' ? 'Deleted.' : kind === 'read' ? 'Marked read.' : 'Marked unread.', 'ok');
      this.#render();
    } catch (error) {
      say(message, error.message, 'error');
    }
  }

  async #markAll() {
    const message = byId('notifications-message');
    try {
      const { markAllNotificationsRead } = await this.#api.request(MARK_ALL);
      for (const [id, n] of this.#items) this.#items.set(id, { ...n, read: true });
      this.#onUnread(markAllNotificationsRead.unreadCount);
      say(message, `${markAllNotificationsRead.changedCount} marked read.`, 'ok');
      this.#render();
    } catch (error) {
      say(message, error.message, 'error');
    }
  }

  async #suggest() {
    const search = byId('send-to').value.trim();
    if (!this.#admin || search.length === 0) return;
    try {
      const { suggestUsers } = await this.#api.request(SUGGEST, { search });
      for (const user of suggestUsers) this.#suggested.set(user.name, user.id);
      byId('send-suggestions').replaceChildren(...suggestUsers.map((user) => h('option', { value: user.name })));
    } catch (error) {
      say(byId('send-message'), error.message, 'error');
    }
  }

  async #addRecipient() {
    const input = byId('send-to');
    const name = input.value.trim();
    if (!name) return;
    let id = this.#suggested.get(name);
    if (!id) {
      // Typed in full without picking a suggestion: look it up.
      const { suggestUsers } = await this.#api.request(SUGGEST, { search: name });
      id = suggestUsers.find((user) => user.name === name)?.id;
    }
    if (!id) {
      say(byId('send-message'), `No user named “${name}”.`, 'error');
      return;
    }
    this.#recipients.set(id, name);
    input.value = '';
    say(byId('send-message'), `${name} added.`);
    this.#renderRecipients();
  }

  #renderRecipients() {
    byId('send-recipients').replaceChildren(
      ...[...this.#recipients].map(([id, name]) =>
        h('li', { className: 'chip' }, name,
          h('button', { type: 'button', 'aria-label': `Remove ${name}`, onclick: () => { this.#recipients.delete(id); this.#renderRecipients(); } }, '×')),
      ),
    );
  }

  async #send() {
    const message = byId('send-message');
    const subject = byId('send-subject').value.trim();
    const body = byId('send-body').value.trim();
    const expires = byId('send-expires').value;
    if (this.#recipients.size === 0) return say(message, 'Add at least one recipient.', 'error');
    if (!subject || !body) return say(message, 'Enter a subject and a message.', 'error');
    try {
      const input = { userIds: [...this.#recipients.keys()], subject, body, expiresAt: expires ? new Date(expires).toISOString() : null };
      const { sendNotification } = await this.#api.request(SEND, { input });
      if (sendNotification.__typename !== 'SendNotificationPayload') return say(message, sendNotification.message, 'error');
      const unknown = sendNotification.unknownUserIds.length;
      say(message, `Sent to ${sendNotification.recipients} ${sendNotification.recipients === 1 ? 'user' : 'users'}${unknown ? `; ${unknown} unknown` : ''}.`, 'ok');
      this.#recipients.clear();
      this.#renderRecipients();
      byId('send-subject').value = '';
      byId('send-body').value = '';
      byId('send-expires').value = '';
    } catch (error) {
      say(message, error.message, 'error');
    }
  }
}
