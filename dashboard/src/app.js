// The Jiritsu dashboard: a static page served by `jiritsu serve` at / (when
// [server] static_dir points at the built dashboard). It calls the JSON API
// and /metrics of the same origin with the bearer token the user pastes into
// the header field; the token is kept in sessionStorage (this tab only, gone
// when the tab closes) and sent only as an Authorization header.
//
// Ops (roles ops, hr, auditor): /metrics is sampled every SAMPLE_MS and kept
// in memory (last MAX_POINTS samples) to draw lag and throughput over time.
// HR (roles hr, auditor): KPIs of an org unit and period, the cross-measure
// line as a funnel, rates per child unit, the step distribution, rejections
// and dead letters. A role that may not read a section gets it hidden.
//
// For tests, window.jiritsuDashboard exposes the fetched data and the charts.
'use strict';

(function () {
  const params = new URLSearchParams(window.location.search);
  const SAMPLE_MS = Math.max(250, Number(params.get('sample_ms')) || 2000);
  const MAX_POINTS = 300;
  const TOKEN_KEY = 'jiritsu.token';

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    samples: [],        // {t, lag, lagSeconds, processed, ingested, rejected, throttled, dlq}
    metrics: null,      // latest parsed /metrics
    kpi: null,          // latest /v1/org-units/{id}/kpis
    unitKpis: {},       // child org unit -> kpis
    steps: null,        // latest /v1/step-distribution
    rejections: null,   // latest /v1/rejections page
    deadLetters: null,  // latest /v1/dead-letters page
    viewTime: null,
    errors: [],
    charts: {},
    ready: { ops: false, hr: false },
  };
  window.jiritsuDashboard = state;

  const $ = (id) => document.getElementById(id);

  function setStatus(text, isError) {
    const el = $('status');
    el.textContent = text;
    el.classList.toggle('error', !!isError);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, asText) {
    const response = await fetch(path, {
      headers: { Authorization: 'Bearer ' + state.token },
      cache: 'no-store',
    });
    const body = await response.text();
    if (!response.ok) {
      let message = body;
      try { message = JSON.parse(body).error.message; } catch (e) { /* not JSON */ }
      throw new ApiError(response.status, path + ': HTTP ' + response.status + ' ' + message);
    }
    return asText ? body : JSON.parse(body);
  }

  // ------------------------------------------------------------ Prometheus text

  // Parses the Prometheus text exposition format 0.0.4 into
  // {name: [{labels: {...}, value: Number}]} (comments and timestamps ignored).
  function parsePrometheus(text) {
    const out = {};
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      const labels = {};
      if (match[3]) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
        let m;
        while ((m = re.exec(match[3])) !== null) {
          labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        }
      }
      const value = match[4] === '+Inf' ? Infinity : match[4] === '-Inf' ? -Infinity : Number(match[4]);
      (out[match[1]] = out[match[1]] || []).push({ labels, value });
    }
    return out;
  }

  function sum(metrics, name, filter) {
    let total = 0;
    for (const s of metrics[name] || []) {
      if (!filter || filter(s.labels)) total += s.value;
    }
    return total;
  }

  function max(metrics, name) {
    let best = null;
    for (const s of metrics[name] || []) {
      if (Number.isFinite(s.value) && (best === null || s.value > best)) best = s.value;
    }
    return best;
  }

  // ------------------------------------------------------------ charts

  const palette = ['#2f6fde', '#e0762f', '#2fa66b', '#c23b5a', '#8a55d6', '#7a8a99', '#d6b12f', '#2fb5c2', '#5a3b1d'];

  function chart(id, config) {
    if (state.charts[id]) state.charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options || {});
    state.charts[id] = new Chart($(id), config);
    return state.charts[id];
  }

  function timeLabel(t) {
    return new Date(t).toLocaleTimeString([], { hour12: false });
  }

  function drawOps() {
    const labels = state.samples.map((s) => timeLabel(s.t));
    const lag = state.charts['chart-lag'];
    const data = {
      labels,
      datasets: [
        { label: 'lag (records)', data: state.samples.map((s) => s.lag), borderColor: palette[0], yAxisID: 'y' },
        { label: 'lag (event-time s)', data: state.samples.map((s) => s.lagSeconds), borderColor: palette[1], yAxisID: 'y1' },
      ],
    };
    if (lag) {
      lag.data = data;
      lag.update('none');
    } else {
      chart('chart-lag', {
        type: 'line', data,
        options: { scales: { y: { beginAtZero: true, position: 'left' }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } } },
      });
    }
    const rates = [];
    for (let i = 1; i < state.samples.length; ++i) {
      const a = state.samples[i - 1];
      const b = state.samples[i];
      const dt = (b.t - a.t) / 1000;
      const rate = (x, y) => (dt > 0 ? Math.max(0, (y - x) / dt) : 0);
      rates.push({ t: b.t, processed: rate(a.processed, b.processed), ingested: rate(a.ingested, b.ingested), rejected: rate(a.rejected, b.rejected) });
    }
    const throughput = {
      labels: rates.map((r) => timeLabel(r.t)),
      datasets: [
        { label: 'ingested (accepted)', data: rates.map((r) => r.ingested), borderColor: palette[2] },
        { label: 'processed by the runner', data: rates.map((r) => r.processed), borderColor: palette[0] },
        { label: 'ingest rejected', data: rates.map((r) => r.rejected), borderColor: palette[3] },
      ],
    };
    state.rates = rates;
    const tp = state.charts['chart-throughput'];
    if (tp) {
      tp.data = throughput;
      tp.update('none');
    } else {
      chart('chart-throughput', { type: 'line', data: throughput, options: { scales: { y: { beginAtZero: true } } } });
    }
  }

  async function sampleMetrics() {
    const text = await api('/metrics', true);
    const m = parsePrometheus(text);
    state.metrics = m;
    const sample = {
      t: Date.now(),
      lag: sum(m, 'jiritsu_consumer_lag_records_total'),
      lagSeconds: max(m, 'jiritsu_consumer_lag_seconds') || 0,
      processed: sum(m, 'jiritsu_events_processed_total'),
      ingested: sum(m, 'jiritsu_ingest_events_total', (l) => l.outcome === 'accepted'),
      rejected: sum(m, 'jiritsu_ingest_events_total', (l) => l.outcome === 'rejected'),
      throttled: sum(m, 'jiritsu_ingest_throttled_total'),
      dlq: sum(m, 'jiritsu_dlq_records'),
      runnerUp: m.jiritsu_runner_up ? sum(m, 'jiritsu_runner_up') : null,
    };
    state.samples.push(sample);
    if (state.samples.length > MAX_POINTS) state.samples.shift();
    $('stat-lag').textContent = sample.lag.toLocaleString();
    $('stat-lag-seconds').textContent = sample.lagSeconds.toFixed(0);
    $('stat-dlq').textContent = sample.dlq.toLocaleString();
    $('stat-rejected').textContent = sample.rejected.toLocaleString();
    $('stat-throttled').textContent = sample.throttled.toLocaleString();
    $('stat-runner').textContent = sample.runnerUp === null ? 'none' : sample.runnerUp ? 'up' : 'down';
    drawOps();
    state.ready.ops = state.samples.length >= 2;
  }

  // ------------------------------------------------------------ KPIs

  function pct(rate) {
    return rate === null || rate === undefined ? '-' : (100 * rate).toFixed(1) + ' %';
  }

  function lineSteps(line) {
    // Canonical JSON sorts keys; the funnel order is fixed by meaning.
    const keys = Object.keys(line);
    const pick = (prefix) => keys.find((k) => k.startsWith(prefix));
    const steps = [['interviewed (career)', line.interviewed]];
    for (const [prefix, label] of [['started_learning_', 'started learning'], ['completed_learning_', 'completed learning'],
      ['declared_', 'declared'], ['finalized_', 'finalized']]) {
      const key = pick(prefix);
      if (key) steps.push([label + ' (' + key.slice(prefix.length) + ')', line[key].count]);
    }
    return steps;
  }

  function drawKpi(kpi) {
    const r = kpi.rolled_up;
    $('stat-population').textContent = r.population.toLocaleString();
    $('stat-required').textContent = pct(r.required_training.rate);
    $('stat-aware').textContent = pct(r.awareness.rate);
    $('stat-maturity').textContent = pct(r.maturity.rate);
    const lead = r.approval_lead_time_days || {};
    $('stat-lead').textContent = lead.p50 === null || lead.p50 === undefined ? '-' : Number(lead.p50).toFixed(1);

    const funnel = lineSteps(r.line);
    chart('chart-funnel', {
      type: 'bar',
      data: {
        labels: funnel.map((s) => s[0]),
        datasets: [{ label: 'people', data: funnel.map((s) => s[1]), backgroundColor: funnel.map((_, i) => palette[i]) }],
      },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
    });

    const p = r.process;
    const activity = [
      ['career interviews', p.interviews_held.career], ['1on1s', p.interviews_held.one_on_one],
      ['counseling', p.interviews_held.counseling], ['cancelled', p.interviews_cancelled],
      ['enrolled', p.trainings_enrolled], ['completed', p.trainings_completed],
      ['certifications', p.certifications], ['declarations', p.declarations_submitted],
      ['finalized', p.declarations_finalized],
    ];
    chart('chart-activity', {
      type: 'bar',
      data: { labels: activity.map((a) => a[0]), datasets: [{ label: kpi.period, data: activity.map((a) => a[1]), backgroundColor: palette[0] }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
    });
  }

  function drawUnits(units) {
    const names = Object.keys(units);
    const rate = (key, getter) => ({ label: key, data: names.map((n) => getter(units[n].rolled_up)) });
    const sets = [
      rate('required training', (r) => r.required_training.rate),
      rate('aware', (r) => r.awareness.rate),
      rate('step 2+', (r) => r.maturity.rate),
      rate('line: started learning', (r) => {
        const key = Object.keys(r.line).find((k) => k.startsWith('started_learning_'));
        return key ? r.line[key].rate : null;
      }),
    ].map((d, i) => Object.assign(d, { backgroundColor: palette[i] }));
    chart('chart-units', {
      type: 'bar',
      data: { labels: names, datasets: sets },
      options: { scales: { y: { beginAtZero: true, max: 1, ticks: { callback: (v) => Math.round(v * 100) + '%' } } } },
    });
  }

  function drawSteps(dist) {
    const programs = dist.programs.filter((p) => p.steps.some((n) => n > 0));
    const depth = Math.max(0, ...programs.map((p) => p.steps.length));
    const datasets = [];
    for (let step = 0; step < depth; ++step) {
      datasets.push({
        label: step === 0 ? 'no step yet' : 'step ' + step,
        data: programs.map((p) => p.steps[step] || 0),
        backgroundColor: palette[step % palette.length],
      });
    }
    chart('chart-steps', {
      type: 'bar',
      data: { labels: programs.map((p) => p.name || p.program), datasets },
      options: { indexAxis: 'y', scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } },
    });
  }

  function drawQuality() {
    const byCode = {};
    for (const row of state.rejections.rejections) byCode[row.code] = (byCode[row.code] || 0) + 1;
    const codes = Object.keys(byCode).sort((a, b) => byCode[b] - byCode[a]);
    chart('chart-rejections', {
      type: 'bar',
      data: { labels: codes, datasets: [{ label: 'rejections', data: codes.map((c) => byCode[c]), backgroundColor: palette[3] }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
    });
    const tbody = $('dlq-table').querySelector('tbody');
    tbody.textContent = '';
    state.deadLetters.dead_letters.slice(0, 20).forEach((row, i) => {
      const tr = document.createElement('tr');
      const n = document.createElement('td');
      n.textContent = String(i + 1);
      const record = document.createElement('td');
      const code = document.createElement('code');
      code.textContent = JSON.stringify(row).slice(0, 300);
      record.appendChild(code);
      tr.append(n, record);
      tbody.appendChild(tr);
    });
    if (!state.deadLetters.dead_letters.length) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 2;
      td.textContent = 'no dead letters';
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
  }

  function fiscalYear(rfc3339) {
    const m = /^(\d{4})-(\d{2})/.exec(rfc3339 || '');
    if (!m) return 'FY' + new Date().getFullYear();
    const year = Number(m[1]);
    return 'FY' + (Number(m[2]) >= 4 ? year : year - 1);
  }

  async function loadOrgUnits() {
    const select = $('org');
    const roots = (await api('/v1/org-units')).root_org_units;
    select.textContent = '';
    for (const root of roots) {
      const unit = await api('/v1/org-units/' + encodeURIComponent(root));
      select.add(new Option(unit.name + ' (' + root + ')', root));
      for (const child of unit.children) select.add(new Option('\u00a0\u00a0' + child, child));
    }
    const view = await api('/v1/view-time');
    state.viewTime = view.view_time;
    if (!$('period').value) $('period').value = fiscalYear(view.view_time);
  }

  async function loadKpis() {
    const org = $('org').value;
    if (!org) return;
    const period = $('period').value.trim();
    const profile = $('profile').value.trim();
    const query = (id) => '/v1/org-units/' + encodeURIComponent(id) + '/kpis?period=' + encodeURIComponent(period) +
      (profile ? '&profile=' + encodeURIComponent(profile) : '');
    state.kpi = await api(query(org));
    drawKpi(state.kpi);
    const unit = await api('/v1/org-units/' + encodeURIComponent(org));
    const children = unit.children.length ? unit.children.slice(0, 12) : [org];
    const units = {};
    for (const child of children) units[child] = await api(query(child));
    state.unitKpis = units;
    drawUnits(units);
    state.steps = await api('/v1/step-distribution?org_unit=' + encodeURIComponent(org));
    drawSteps(state.steps);
  }

  async function loadQuality() {
    state.rejections = await api('/v1/rejections?limit=500');
    state.deadLetters = await api('/v1/dead-letters?limit=20');
    drawQuality();
  }

  // ------------------------------------------------------------ wiring

  let timer = null;

  async function connect() {
    if (timer) clearInterval(timer);
    state.samples = [];
    state.errors = [];
    state.ready = { ops: false, hr: false };
    if (!state.token) {
      setStatus('Paste a token (role ops, hr or auditor) and connect.');
      return;
    }
    setStatus('Connecting...');
    let ops = true;
    try {
      await sampleMetrics();
    } catch (e) {
      ops = false;
      if (!(e instanceof ApiError) || e.status !== 403) state.errors.push(e.message);
      if (e instanceof ApiError && e.status === 401) {
        setStatus('Token refused: ' + e.message, true);
        return;
      }
    }
    $('ops').classList.toggle('hidden', !ops);
    if (ops) {
      timer = setInterval(() => sampleMetrics().catch((e) => setStatus(e.message, true)), SAMPLE_MS);
    }
    let hr = true;
    try {
      await loadOrgUnits();
      await loadKpis();
      await loadQuality();
      state.ready.hr = true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) hr = false;
      else state.errors.push(e.message);
    }
    $('hr').classList.toggle('hidden', !hr);
    $('quality').classList.toggle('hidden', !hr);
    if (state.errors.length) setStatus(state.errors.join('; '), true);
    else setStatus('Connected' + (ops ? '; sampling /metrics' : '') + (hr ? '; views as of ' + state.viewTime : '') + '.');
  }

  $('token').value = state.token;
  $('sample-interval').textContent = String(SAMPLE_MS / 1000);
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    connect();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = '';
    $('token').value = '';
    connect();
  });
  $('kpi-form').addEventListener('submit', (event) => {
    event.preventDefault();
    loadKpis().then(() => setStatus('KPIs of ' + $('org').value + ', ' + $('period').value + '.'))
      .catch((e) => setStatus(e.message, true));
  });
  connect();
})();
