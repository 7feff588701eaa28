// uPlot charts of a method's points: calls / errors / declined, and latency percentiles.
import uPlot from '../vendor/uplot.esm.js';
import { byId } from './dom.js';

const charts = new Map(); // element id → uPlot
const DOTS = { show: true, size: 5 };

function widthOf(element) {
  return Math.max(240, Math.floor(element.getBoundingClientRect().width || element.parentElement?.clientWidth || 320));
}

function draw(id, series, data) {
  const element = byId(id);
  const old = charts.get(id);
  if (old && old.series.length === series.length + 1) {
    old.setData(data);
    return;
  }
  old?.destroy();
  const chart = new uPlot(
    {
      width: widthOf(element),
      height: 180,
      series: [{}, ...series],
      axes: [{}, { size: 50 }],
      legend: { live: true },
    },
    data,
    element,
  );
  charts.set(id, chart);
}

/** Draws (or updates) the two charts of one window: `which` is 'hour' or 'month'. */
export function renderCharts(which, points) {
  const x = points.map((point) => Date.parse(point.at) / 1000);
  draw(
    `chart-${which}-calls`,
    [
      { label: 'calls', stroke: '#1f5fa8', width: 1.5 },
      { label: 'errors', stroke: '#b3261e', width: 1.5 },
      { label: 'declined', stroke: '#8a5a00', width: 1.5, dash: [4, 3] },
    ],
    [x, points.map((p) => p.calls), points.map((p) => p.errors), points.map((p) => p.declined)],
  );
  draw(
    `chart-${which}-latency`,
    [
      // Buckets without accepted calls have no latency: dots keep lone buckets visible.
      { label: 'p50', stroke: '#2e7d32', width: 1.5, points: DOTS },
      { label: 'p95', stroke: '#6a3fb5', width: 1.5, points: DOTS },
      { label: 'p99', stroke: '#b3261e', width: 1.5, points: DOTS },
    ],
    [x, points.map((p) => p.p50), points.map((p) => p.p95), points.map((p) => p.p99)],
  );
}

export function disposeCharts() {
  for (const chart of charts.values()) chart.destroy();
  charts.clear();
}

window.addEventListener('resize', () => {
  for (const [id, chart] of charts) chart.setSize({ width: widthOf(byId(id)), height: 180 });
});
