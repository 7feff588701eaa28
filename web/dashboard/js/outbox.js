// Mail delivery: the outbox by status with each message's attempts and last reply; failed and
// uncertain messages can be queued again.
import { byId, h, say, timeEl } from './dom.js';

const STATUSES = ['QUEUED', 'SENDING', 'SENT', 'FAILED', 'UNCERTAIN'];
const COUNTS = `query DashboardOutboxCounts { ${STATUSES.map((s) => `${s.toLowerCase()}: outbox(first: 1, filter: { status: [${s}] }) { totalCount }`).join(' ')} }`;
const LIST = `query DashboardOutbox($first: Int, $after: String, $filter: OutboxFilter) {
  outbox(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id recipient template subject status attempts nextAttemptAt lastReply createdAt updatedAt sentAt } }
  }
}`;
const RETRY = `mutation DashboardRetry($id: ID!) {
  retryOutboxMessage(id: $id) {
    __typename
    ... on OutboxMessagePayload { outboxMessage: message { id status } }
    ... on Error { message }
  }
}`;
const PAGE = 50;
const REFRESH_MS = 15_000;

export class OutboxView {
  #api;
  #endCursor = null;
  #timer = null;

  constructor(api) {
    this.#api = api;
    const fieldset = byId('outbox-statuses');
    for (const status of STATUSES) {
      const id = `outbox-status-${status.toLowerCase()}`;
      fieldset.append(
        h('span', { className: 'inline' },
          h('input', { type: 'checkbox', id, value: status }),
          h('label', { for: id }, status.toLowerCase(), ' ', h('span', { className: 'count', id: `${id}-count` }, ''))),
      );
    }
    byId('outbox-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#refresh();
    });
    byId('outbox-more').addEventListener('click', () => void this.#load(true));
  }

  start() {
    void this.#refresh();
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.#refresh(), REFRESH_MS);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
  }

  async #refresh() {
    await Promise.all([this.#counts(), this.#load(false)]);
  }

  async #counts() {
    try {
      const data = await this.#api.request(COUNTS);
      for (const status of STATUSES) byId(`outbox-status-${status.toLowerCase()}-count`).textContent = `(${data[status.toLowerCase()].totalCount})`;
    } catch {
      // The list below reports the error.
    }
  }

  #filter() {
    const status = STATUSES.filter((s) => byId(`outbox-status-${s.toLowerCase()}`).checked);
    const recipient = byId('outbox-recipient').value.trim();
    return { ...(status.length ? { status } : {}), ...(recipient ? { recipient } : {}) };
  }

  async #load(more) {
    const message = byId('outbox-message');
    try {
      const { outbox } = await this.#api.request(LIST, { first: PAGE, after: more ? this.#endCursor : null, filter: this.#filter() });
      const rows = outbox.edges.map(({ node }) => this.#row(node));
      if (more) byId('outbox-rows').append(...rows);
      else byId('outbox-rows').replaceChildren(...rows);
      this.#endCursor = outbox.pageInfo.endCursor;
      byId('outbox-more').hidden = !outbox.pageInfo.hasNextPage;
      if (message.dataset.kind !== 'ok') say(message, `${outbox.totalCount} ${outbox.totalCount === 1 ? 'message' : 'messages'}.`);
    } catch (error) {
      say(message, `Could not load the outbox: ${error.message}`, 'error');
    }
  }

  #row(m) {
    const retryable = m.status === 'FAILED' || m.status === 'UNCERTAIN';
    return h('tr', { dataset: { id: m.id, status: m.status } },
      h('td', {}, timeEl(m.createdAt)),
      h('td', {}, m.recipient),
      h('td', {}, m.subject, h('span', { className: 'hint' }, ` ${m.template}`)),
      h('td', {}, h('span', { className: `status status-${m.status.toLowerCase()}` }, m.status)),
      h('td', { className: 'num' }, String(m.attempts)),
      h('td', {}, timeEl(m.nextAttemptAt)),
      h('td', { className: 'reply' }, m.lastReply ?? '—'),
      h('td', {}, retryable ? h('button', { type: 'button', onclick: () => void this.#retry(m), 'aria-label': `Retry the message to ${m.recipient}` }, 'Retry') : ''),
    );
  }

  async #retry(m) {
    const message = byId('outbox-message');
    try {
      const { retryOutboxMessage } = await this.#api.request(RETRY, { id: m.id });
      if (retryOutboxMessage.__typename !== 'OutboxMessagePayload') return say(message, retryOutboxMessage.message, 'error');
      say(message, `The message to ${m.recipient} is queued again.`, 'ok');
      await this.#refresh();
      message.dataset.kind = '';
    } catch (error) {
      say(message, error.message, 'error');
    }
  }
}
