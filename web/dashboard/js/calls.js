// The call log: newest calls first, filtered by method, user and outcome, page by page.
import { byId, debounce, formatNumber, h, say, timeEl } from './dom.js';

const LOG = `query DashboardCallLog($first: Int, $after: String, $filter: ApiCallFilter) {
  apiCallLog(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id methodId userId credentialId clientAddress startedAt durationMs status statusText outcome declinedBy } }
  }
}`;
const SUGGEST = `query DashboardCallUsers($search: String) { suggestUsers(search: $search, first: 10) { id name } }`;
const PAGE = 50;

export class CallLogView {
  #api;
  #endCursor = null;
  #filter = {};
  #names = new Map(); // user id → name, from suggestions
  #ids = new Map(); // name → user id

  constructor(api) {
    this.#api = api;
    byId('calls-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#apply();
    });
    byId('calls-more').addEventListener('click', () => void this.#load(true));
    byId('calls-user').addEventListener('input', debounce(() => void this.#suggest(), 150));
  }

  start() {
    void this.#apply();
  }

  stop() {}

  async #apply() {
    const filter = {};
    const methodId = byId('calls-method').value.trim();
    const user = byId('calls-user').value.trim();
    const outcome = byId('calls-outcome').value;
    if (methodId) filter.methodId = methodId;
    if (outcome) filter.outcome = outcome;
    if (user) filter.userId = this.#ids.get(user) ?? (await this.#lookUp(user)) ?? user;
    this.#filter = filter;
    await this.#load(false);
  }

  async #lookUp(name) {
    try {
      const { suggestUsers } = await this.#api.request(SUGGEST, { search: name });
      this.#remember(suggestUsers);
      return suggestUsers.find((u) => u.name === name)?.id;
    } catch {
      return undefined;
    }
  }

  #remember(users) {
    for (const user of users) {
      this.#names.set(user.id, user.name);
      this.#ids.set(user.name, user.id);
    }
  }

  async #suggest() {
    const search = byId('calls-user').value.trim();
    if (!search) return;
    try {
      const { suggestUsers } = await this.#api.request(SUGGEST, { search });
      this.#remember(suggestUsers);
      byId('calls-user-names').replaceChildren(...suggestUsers.map((u) => h('option', { value: u.name })));
    } catch {
      // Suggestions are a convenience; the filter still takes an id.
    }
  }

  async #load(more) {
    const message = byId('calls-message');
    try {
      const { apiCallLog } = await this.#api.request(LOG, { first: PAGE, after: more ? this.#endCursor : null, filter: this.#filter });
      const rows = apiCallLog.edges.map(({ node }) =>
        h('tr', { dataset: { outcome: node.outcome } },
          h('td', {}, timeEl(node.startedAt)),
          h('td', { className: 'mono' }, node.methodId),
          h('td', {}, node.userId ? (this.#names.get(node.userId) ?? node.userId) : '—'),
          h('td', {}, h('span', { className: `outcome outcome-${node.outcome.toLowerCase()}` }, node.outcome), node.declinedBy ? ` (${node.declinedBy})` : ''),
          h('td', { className: 'num', title: node.statusText }, String(node.status)),
          h('td', { className: 'num' }, formatNumber(node.durationMs, 1)),
          h('td', { className: 'mono' }, node.clientAddress ?? '—'),
        ),
      );
      if (more) byId('calls-rows').append(...rows);
      else byId('calls-rows').replaceChildren(...rows);
      this.#endCursor = apiCallLog.pageInfo.endCursor;
      byId('calls-more').hidden = !apiCallLog.pageInfo.hasNextPage;
      say(message, `${apiCallLog.totalCount} ${apiCallLog.totalCount === 1 ? 'call' : 'calls'} match.`);
    } catch (error) {
      say(message, `Could not load the call log: ${error.message}`, 'error');
    }
  }
}
