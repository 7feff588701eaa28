// Live API statistics: the `apiStats` subscription fills a sortable table; a chosen method gets
// charts of the last hour (from the same live snapshots) and of the last 30 days.
import { byId, formatNumber, h, sparkline, timeEl } from './dom.js';
import { disposeCharts, renderCharts } from './charts.js';

const POINT = 'at calls accepted declined errors exceptions avgMs p50 p95 p99';
const STATS = `subscription DashboardStats($methodIds: [String!], $window: ApiStatsWindow!) {
  apiStats(methodIds: $methodIds, window: $window) {
    window bucketSeconds lastUpdated
    methods { methodId total { ${POINT} } points { ${POINT} } }
  }
}`;

/** One table row's figures, derived from a method's stats over the window. */
function rowOf(method, minutes) {
  const { total } = method;
  return {
    methodId: method.methodId,
    calls: total.calls,
    perMinute: total.calls / minutes,
    errorRate: total.calls > 0 ? (100 * total.errors) / total.calls : 0,
    declined: total.declined,
    p50: total.p50,
    p95: total.p95,
    p99: total.p99,
    points: method.points,
  };
}

export class StatsView {
  #api;
  #stop = null;
  #stopMonth = null;
  #rows = [];
  #rowEls = new Map(); // methodId → <tr>
  #sort = { key: 'methodId', descending: false };
  #selected = null;
  #snapshot = null;

  constructor(api) {
    this.#api = api;
    for (const button of byId('stats-table').querySelectorAll('button[data-sort]')) {
      button.addEventListener('click', () => this.#sortBy(button.dataset.sort));
    }
    byId('detail-close').addEventListener('click', () => this.#select(null));
  }

  start() {
    if (this.#stop) return;
    this.#stop = this.#api.subscribe(STATS, { window: 'LAST_HOUR' }, {
      next: ({ apiStats }) => this.#update(apiStats),
      error: (error) => {
        byId('stats-updated').textContent = `not available: ${error.message}`;
      },
    });
  }

  stop() {
    this.#stop?.();
    this.#stop = null;
    this.#select(null);
    this.#rowEls.clear();
    byId('stats-rows').replaceChildren();
  }

  #update(snapshot) {
    this.#snapshot = snapshot;
    const minutes = (snapshot.methods[0]?.points.length || 60) * (snapshot.bucketSeconds / 60) || 60;
    this.#rows = snapshot.methods.map((method) => rowOf(method, minutes));
    const updated = byId('stats-updated');
    updated.replaceWith(Object.assign(timeEl(snapshot.lastUpdated, true), { id: 'stats-updated' }));
    const names = byId('method-names');
    names.replaceChildren(...this.#rows.map((row) => h('option', { value: row.methodId })));
    this.#render();
    if (this.#selected) this.#drawHour();
  }

  #sortBy(key) {
    this.#sort = { key, descending: this.#sort.key === key ? !this.#sort.descending : key !== 'methodId' };
    this.#render();
  }

  #render() {
    const { key, descending } = this.#sort;
    const sign = descending ? -1 : 1;
    const rows = [...this.#rows].sort((a, b) => {
      const x = a[key];
      const y = b[key];
      if (x === y) return a.methodId < b.methodId ? -1 : 1;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    });
    for (const th of byId('stats-table').querySelectorAll('th')) {
      const button = th.querySelector('button[data-sort]');
      if (!button) continue;
      th.setAttribute('aria-sort', button.dataset.sort === key ? (descending ? 'descending' : 'ascending') : 'none');
    }
    // Rows are updated in place, keyed by method, so a focused button stays focused across ticks.
    const body = byId('stats-rows');
    const focused = body.contains(document.activeElement) ? document.activeElement : null;
    const wanted = rows.map((row) => this.#rowEl(row));
    for (const [methodId, tr] of this.#rowEls) if (!rows.some((row) => row.methodId === methodId)) {
      tr.remove();
      this.#rowEls.delete(methodId);
    }
    if (wanted.some((tr, i) => body.children[i] !== tr) || body.children.length !== wanted.length) {
      body.replaceChildren(...wanted);
      if (focused && body.contains(focused)) focused.focus();
    }
    byId('stats-empty').hidden = rows.length > 0;
  }

  /** The row of a method, created once and updated with every snapshot. */
  #rowEl(row) {
    let tr = this.#rowEls.get(row.methodId);
    if (!tr) {
      const cell = (col) => h('td', { className: 'num', dataset: { col } });
      tr = h(
        'tr',
        { dataset: { method: row.methodId } },
        h('th', { scope: 'row' }, h('button', { type: 'button', className: 'link', onclick: () => this.#select(row.methodId), 'aria-label': `${row.methodId}: show charts` }, row.methodId)),
        ...['calls', 'perMinute', 'errorRate', 'declined', 'p50', 'p95', 'p99'].map(cell),
        h('td', { dataset: { col: 'spark' } }),
      );
      this.#rowEls.set(row.methodId, tr);
    }
    const text = { calls: formatNumber(row.calls), perMinute: formatNumber(row.perMinute, 2), errorRate: formatNumber(row.errorRate, 1), declined: formatNumber(row.declined), p50: formatNumber(row.p50, 1), p95: formatNumber(row.p95, 1), p99: formatNumber(row.p99, 1) };
    for (const td of tr.querySelectorAll('td[data-col]')) {
      if (td.dataset.col === 'spark') td.replaceChildren(sparkline(row.points.map((point) => point.calls)));
      else if (td.textContent !== text[td.dataset.col]) td.textContent = text[td.dataset.col];
    }
    if (row.methodId === this.#selected) tr.setAttribute('data-selected', '');
    else tr.removeAttribute('data-selected');
    return tr;
  }

  #select(methodId) {
    this.#stopMonth?.();
    this.#stopMonth = null;
    this.#selected = methodId;
    const detail = byId('method-detail');
    for (const row of byId('stats-rows').children) {
      if (row.dataset.method === methodId) row.setAttribute('data-selected', '');
      else row.removeAttribute('data-selected');
    }
    if (!methodId) {
      detail.hidden = true;
      disposeCharts();
      return;
    }
    byId('detail-title').textContent = methodId;
    detail.hidden = false;
    this.#drawHour();
    byId('month-status').textContent = 'Loading…';
    this.#stopMonth = this.#api.subscribe(STATS, { methodIds: [methodId], window: 'LAST_30_DAYS' }, {
      next: ({ apiStats }) => {
        const method = apiStats.methods.find((m) => m.methodId === methodId);
        byId('month-status').textContent = '';
        byId('month-status').append('Updated ', timeEl(apiStats.lastUpdated, true));
        renderCharts('month', method?.points ?? []);
      },
      error: (error) => {
        byId('month-status').textContent = `Not available: ${error.message}`;
      },
    });
    byId('detail-title').scrollIntoView({ block: 'nearest' });
    byId('detail-close').focus();
  }

  #drawHour() {
    const method = this.#snapshot?.methods.find((m) => m.methodId === this.#selected);
    renderCharts('hour', method?.points ?? []);
  }
}
