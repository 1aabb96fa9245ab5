import { createHash } from 'node:crypto';

/**
 * The gateway's status page (`GET /` and `GET /status`): replicas, scheduler, backtest queue and
 * the market data's freshness, in one self-contained HTML document, inline
 * CSS and JS, no external assets. It fetches `/gateway/status.json` every second and renders it
 * with DOM nodes and text only (never innerHTML), so nothing a replica reports can become markup.
 */

export const STATUS_REFRESH_MS = 1000;

const STYLE = `
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --muted: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; padding: 20px 28px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 12px 24px; margin-bottom: 16px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 12px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.muted { color: var(--muted); }
.stale { color: var(--bad); font-weight: 600; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) 250px; gap: 16px; align-items: start; }
section { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; overflow-x: auto; }
section.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; font-size: 12px; color: var(--muted); }
td.url, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
td.wrap { white-space: normal; word-break: break-word; }
tr.has-error td { border-bottom: none; }
tr.run-error td { padding-top: 0; font-size: 12px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.ok, .badge.succeeded { background: var(--ok); }
.badge.bad, .badge.failed { background: var(--bad); }
.badge.running { background: #0969da; }
.badge.skipped, .badge.other { background: var(--muted); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
#queue .mono { word-break: break-all; }
.depth { font-size: 40px; font-weight: 700; line-height: 1.1; }
.error { color: var(--bad); white-space: pre-wrap; word-break: break-word; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
`;

// Plain ES5-style script: no template literals, so nothing here is interpolated by TypeScript.
const SCRIPT = `
(function () {
  'use strict';
  var REFRESH_MS = ${STATUS_REFRESH_MS};
  var lastGood = null;

  function el(tag, className, children) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    (children || []).forEach(function (child) {
      // append() with a string inserts a Text node: data never becomes markup.
      node.append(child === null || child === undefined ? '' : child instanceof Node ? child : String(child));
    });
    return node;
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function time(iso) {
    if (!iso) return '-';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + clock(iso);
  }
  function clock(iso) {
    if (!iso) return '-';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function ago(iso, now) {
    if (!iso) return '';
    var ms = now - new Date(iso).getTime();
    return isFinite(ms) ? ' (' + Math.max(0, ms / 1000).toFixed(1) + ' s ago)' : '';
  }
  function badge(text, kind) { return el('span', 'badge ' + kind, [text]); }
  function runBadge(status) {
    var known = ['succeeded', 'failed', 'running', 'skipped'];
    return badge(status, known.indexOf(status) >= 0 ? status : 'other');
  }
  function table(headers, rows) {
    var head = el('tr', '', headers.map(function (h) { return el('th', '', [h]); }));
    return el('table', '', [el('thead', '', [head]), el('tbody', '', rows)]);
  }
  function cell(content, className) { return el('td', className || '', [content]); }

  function renderReplicas(replicas, now) {
    var ready = replicas.filter(function (r) { return r.ready; }).length;
    document.getElementById('replica-summary').textContent = ready + ' of ' + replicas.length + ' ready';
    var rows = replicas.map(function (r) {
      var detail = r.lastStatus !== null ? 'HTTP ' + r.lastStatus : r.lastError || '';
      var row = el('tr', r.ready ? 'ready' : 'unready', [
        cell(r.service),
        cell(r.name, 'mono name'),
        cell(r.url, 'url'),
        el('td', 'state', [badge(r.ready ? 'ready' : 'not ready', r.ready ? 'ok' : 'bad')]),
        cell(clock(r.lastCheckAt) + ago(r.lastCheckAt, now), 'checked mono'),
        cell(detail, 'mono'),
      ]);
      row.setAttribute('data-replica', r.name);
      row.setAttribute('data-ready', String(r.ready));
      return row;
    });
    document.getElementById('replicas').replaceChildren(
      table(['service', 'replica', 'URL', 'readiness', 'last check', 'last probe'], rows),
    );
  }

  function renderScheduler(s) {
    var box = document.getElementById('scheduler');
    if (!s) {
      box.replaceChildren(el('p', 'muted', ['not configured']));
      return;
    }
    var parts = [];
    if (s.error) parts.push(el('p', 'error', [s.error]));
    parts.push(
      el('dl', '', [
        el('dt', '', ['leader']), el('dd', 'mono', [s.leader || '(none)']),
        el('dt', '', ['epoch']), el('dd', 'mono', [s.epoch === null ? '-' : s.epoch]),
        el('dt', '', ['election']), el('dd', '', [s.backend || '-']),
        el('dt', '', ['trading date']), el('dd', '', [s.tradingDate || '-']),
        el('dt', '', ['answered by']), el('dd', 'mono', [s.source || '-']),
      ]),
    );
    parts.push(el('h3', '', ['next occurrences']));
    parts.push(
      s.nextOccurrences.length === 0
        ? el('p', 'muted', ['none'])
        : table(['job', 'at', 'trading date'], s.nextOccurrences.map(function (o) {
            return el('tr', '', [cell(o.job), cell(time(o.at)), cell(o.tradingDate || '-')]);
          })),
    );
    parts.push(el('h3', '', ['last runs']));
    parts.push(
      s.lastRuns.length === 0
        ? el('p', 'muted', ['none yet'])
        : table(['run', 'status', 'trigger', 'epoch', 'runner', 'started', 'finished'], s.lastRuns.flatMap(function (r) {
            var row = el('tr', '', [
              cell(r.runKey, 'mono'),
              el('td', '', [runBadge(r.status)]),
              cell(r.trigger || '-'),
              cell(r.epoch === null ? '-' : r.epoch),
              cell(r.runner || '-', 'mono'),
              cell(time(r.startedAt)),
              cell(time(r.finishedAt)),
            ]);
            row.setAttribute('data-run', r.runKey);
            if (!r.error) return [row];
            row.className = 'has-error';
            var error = el('td', 'wrap error', [r.error]);
            error.colSpan = 7;
            var errorRow = el('tr', 'run-error', [error]);
            errorRow.setAttribute('data-run-error', r.runKey);
            return [row, errorRow];
          })),
    );
    box.replaceChildren.apply(box, parts);
  }

  function renderMarket(m) {
    var box = document.getElementById('market');
    if (!m) {
      box.replaceChildren(el('p', 'muted', ['not configured']));
      return;
    }
    var parts = [];
    if (m.error) parts.push(el('p', 'error', [m.error]));
    parts.push(
      el('dl', '', [
        el('dt', '', ['last trading day']), el('dd', '', [m.lastTradingDay || '-']),
        el('dt', '', ['last ingested']), el('dd', '', [m.lastIngestedDate || '-']),
        el('dt', '', ['data version']), el('dd', 'mono', [m.dataVersion || '-']),
      ]),
    );
    parts.push(el('h3', '', ['latest bar per market']));
    parts.push(
      m.markets.length === 0
        ? el('p', 'muted', ['none'])
        : table(['market', 'latest bar', 'listed'], m.markets.map(function (x) {
            var row = el('tr', '', [cell(x.market), cell(x.latestBarDate || '-'), cell(x.listed === null ? '-' : x.listed, 'mono')]);
            row.setAttribute('data-market', x.market);
            return row;
          })),
    );
    parts.push(el('h3', '', ['last ingest']));
    var run = m.lastIngest;
    if (!run) {
      parts.push(el('p', 'muted', ['none yet']));
    } else {
      var summary = el('p', '', [
        runBadge(run.status), ' ', run.date || '-', ' from ', el('span', 'mono', [run.provider || '-']),
        ', attempt ', run.attempt === null ? '-' : run.attempt, ', finished ', time(run.finishedAt),
      ]);
      summary.id = 'last-ingest';
      parts.push(summary);
      if (run.error) {
        var error = el('p', 'error', [run.error]);
        error.id = 'last-ingest-error';
        parts.push(error);
      }
    }
    box.replaceChildren.apply(box, parts);
  }

  function renderQueue(q) {
    var box = document.getElementById('queue');
    if (!q) {
      box.replaceChildren(el('p', 'muted', ['not configured']));
      return;
    }
    var parts = [el('p', 'muted', ['BullMQ queue ', el('span', 'mono', [q.queue]), ', keys ', el('span', 'mono', [q.keys + '*'])])];
    if (q.error) parts.push(el('p', 'error', [q.error]));
    var depth = el('div', 'depth', [q.depth === null ? '?' : q.depth]);
    depth.id = 'queue-depth';
    parts.push(depth, el('p', 'muted', ['jobs waiting to be taken']));
    if (q.counts) {
      var rows = Object.keys(q.counts).map(function (state) {
        return el('tr', '', [cell(state), cell(q.counts[state], 'mono')]);
      });
      parts.push(table(['state', 'jobs'], rows));
    }
    box.replaceChildren.apply(box, parts);
  }

  function render(data) {
    var now = new Date(data.generatedAt).getTime();
    renderReplicas(data.replicas, now);
    renderScheduler(data.scheduler);
    renderMarket(data.market);
    renderQueue(data.queue);
  }

  function setUpdated(ok, detail) {
    var node = document.getElementById('updated');
    node.className = ok ? 'muted' : 'stale';
    node.textContent = ok
      ? 'last updated ' + clock(lastGood)
      : 'cannot reach the gateway (' + detail + '); last updated ' + (lastGood ? clock(lastGood) : 'never');
  }

  function refresh() {
    fetch('/gateway/status.json', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (data) {
        render(data);
        lastGood = data.generatedAt;
        setUpdated(true, '');
      })
      .catch(function (error) { setUpdated(false, error && error.message ? error.message : String(error)); })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }

  document.getElementById('origin').textContent = location.origin;
  refresh();
})();
`;

function sha256(source: string): string {
  return `'sha256-${createHash('sha256').update(source).digest('base64')}'`;
}

/** Only this page's own inline style and script, and requests to the gateway itself. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StockLab platform status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>StockLab platform status</h1>
  <span class="muted">gateway <span id="origin" class="mono"></span></span>
  <span id="updated" class="muted">loading&hellip;</span>
</header>
<div class="grid">
  <section class="wide"><h2>Replicas <span id="replica-summary" class="muted"></span></h2><div id="replicas"></div></section>
  <section><h2>Scheduler</h2><div id="scheduler"></div></section>
  <section><h2>Backtest queue</h2><div id="queue"></div></section>
  <section class="wide"><h2>Market data</h2><div id="market"></div></section>
</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
