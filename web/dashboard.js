// r1 dashboard (web/dashboard.js): polls the JSON API of `r1 dashboard` (src/server/dashboard.cpp) and draws every
// numeric metric of every run as a line chart on a canvas, runs overlaid one colour each, with TensorBoard's
// smoothing (a debiased exponential moving average; constant series left as they are); and browses the completions
// GRPO / PPO log, by step and by a reward's range. Only the rows logged since the last poll are fetched
// (GET /api/metrics?since=N); a `gen` that changes means the log was cut back (a resumed run): the run's curves are
// rebuilt from its first row. No library, no build step. Model output is shown with textContent only, never as HTML.
// For tests: window.r1dash.charts() returns what each chart drew (x, y and smoothed y per run).
'use strict';
(function () {
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
    '#bcbd22', '#17becf'];
  const $ = (id) => document.getElementById(id);
  const stored = (name, fallback) => {
    try {
      const v = localStorage.getItem('r1dash.' + name);
      return v === null ? fallback : JSON.parse(v);
    } catch (e) {
      return fallback;
    }
  };
  const store = (name, value) => {
    try { localStorage.setItem('r1dash.' + name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  };

  const state = {
    runs: new Map(),    // id -> {id, info, color, visible, gen, next, series: Map(metric -> {x, y, t}), lastElapsed}
    charts: new Map(),  // metric -> Chart
    groups: new Map(),  // group name -> {el, grid, count}
    dirty: new Set(),   // metrics whose data changed since they were drawn
    colours: 0,
    smoothing: stored('smoothing', 0.6),
    showRaw: stored('showRaw', true),
    xAxis: stored('xAxis', 'step'),
    logScale: stored('logScale', false),
    filter: null,
    hidden: new Set(stored('hidden', [])),
    reloadMs: 1000,
    polls: 0,
    updates: 0,  // batches of metric rows applied
    view: 'metrics',
    error: null,
  };

  // ---- Numbers ------------------------------------------------------------------------------------------------------

  function fmt(v) {
    if (typeof v !== 'number') return String(v);
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(+v.toPrecision(4));
  }

  // TensorBoard's smoothing: last = last * w + (1 - w) * v, divided by 1 - w^n (the zero start's bias).
  function smooth(values, weight) {
    if (!(weight > 0)) return values.slice();
    const constant = values.every((v) => v === values[0]);
    const out = [];
    let last = 0;
    let n = 0;
    for (const v of values) {
      if (!Number.isFinite(v) || constant) {
        out.push(v);
        continue;
      }
      last = last * weight + (1 - weight) * v;
      n += 1;
      out.push(last / (weight === 1 ? 1 : 1 - Math.pow(weight, n)));
    }
    return out;
  }

  function niceTicks(lo, hi, count, integers) {
    if (!(hi > lo)) hi = lo + 1;
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    let step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    if (integers) step = Math.max(1, Math.round(step));
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && ticks.length < 50; v += step) {
      ticks.push(+v.toPrecision(12));
    }
    return ticks;
  }

  // The index in sorted `xs` nearest to x.
  function nearest(xs, x) {
    let lo = 0;
    let hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) return lo - 1;
    return lo;
  }

  // ---- The server ---------------------------------------------------------------------------------------------------

  async function fetchJSON(url) {
    const res = await fetch(url, {cache: 'no-store'});
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error((body && body.error) || `${url}: HTTP ${res.status}`);
    return body;
  }

  function newRun(info) {
    const run = {
      id: info.id, info, color: PALETTE[state.colours % PALETTE.length], visible: !state.hidden.has(info.id),
      gen: null, next: 0, series: new Map(), lastElapsed: NaN,
    };
    if (state.colours >= PALETTE.length) {  // past the palette: hues around the circle
      run.color = `hsl(${(state.colours * 47) % 360}, 65%, 45%)`;
    }
    state.colours += 1;
    state.runs.set(info.id, run);
    return run;
  }

  function clearRun(run) {
    for (const metric of run.series.keys()) state.dirty.add(metric);
    run.series = new Map();
    run.next = 0;
    run.lastElapsed = NaN;
  }

  function applyRows(run, rows) {
    for (const row of rows) {
      if (typeof row.elapsed === 'number') run.lastElapsed = row.elapsed;
      for (const key of Object.keys(row)) {
        if (key === 'step') continue;
        let s = run.series.get(key);
        if (!s) {
          s = {x: [], y: [], t: []};
          run.series.set(key, s);
        }
        s.x.push(row.step);
        s.y.push(row[key]);
        s.t.push(run.lastElapsed);
        state.dirty.add(key);
      }
    }
  }

  async function loadMetrics(run) {
    for (let guard = 0; guard < 1000; guard++) {
      let url = `api/metrics?run=${encodeURIComponent(run.id)}&since=${run.next}`;
      if (run.gen !== null) url += `&gen=${run.gen}`;
      const d = await fetchJSON(url);
      if (d.reset) clearRun(run);
      run.gen = d.gen;
      applyRows(run, d.rows);
      run.next = d.next;
      state.updates += 1;
      if (d.next >= d.total) break;
    }
  }

  async function refresh() {
    const data = await fetchJSON('api/runs');
    if (state.instance !== undefined && data.instance !== state.instance) {
      for (const run of state.runs.values()) {  // another dashboard process: its row indices start over
        clearRun(run);
        run.gen = null;
      }
    }
    state.instance = data.instance;
    state.reloadMs = Math.max(50, (data.reload_interval || 1) * 1000);
    $('roots').textContent = data.roots.length ? 'under ' + data.roots.join(', ') : '';
    const seen = new Set();
    for (const info of data.runs) {
      seen.add(info.id);
      const run = state.runs.get(info.id) || newRun(info);
      run.info = info;
      if (run.gen !== info.gen || run.next !== info.rows) await loadMetrics(run);
    }
    for (const [id, run] of [...state.runs]) {
      if (seen.has(id)) continue;
      for (const metric of run.series.keys()) state.dirty.add(metric);
      state.runs.delete(id);
    }
    state.polls += 1;
    renderRuns();
    syncCharts();
    if (state.view === 'completions') {
      fillCompletionRuns();
      if ($('c-follow').checked) await loadCompletions(true);
    }
  }

  async function loop() {
    try {
      await refresh();
      state.error = null;
    } catch (e) {
      state.error = e;
    }
    renderStatus();
    setTimeout(loop, state.reloadMs);
  }

  function renderStatus() {
    const el = $('status');
    if (state.error) {
      el.textContent = `cannot reach r1 dashboard (retrying): ${state.error.message}`;
      el.classList.add('error');
      return;
    }
    el.classList.remove('error');
    const now = new Date();
    el.textContent = `${state.runs.size} run${state.runs.size === 1 ? '' : 's'} · ${state.charts.size} metrics · ` +
      `updated ${now.toLocaleTimeString()}`;
  }

  // ---- The runs (legend and toggles) --------------------------------------------------------------------------------

  const runItems = new Map();  // id -> {li, check, meta}

  function renderRuns() {
    const list = $('runs');
    for (const [id, item] of [...runItems]) {
      if (!state.runs.has(id)) {
        item.li.remove();
        runItems.delete(id);
      }
    }
    let none = list.querySelector('li.none');
    if (!state.runs.size && !none) {
      none = document.createElement('li');
      none.className = 'none hint';
      none.textContent = 'No run yet: a run is a directory with a metrics.jsonl (a trainer\'s output_dir).';
      list.append(none);
    } else if (state.runs.size && none) {
      none.remove();
    }
    const nowSeconds = Date.now() / 1000;
    for (const run of state.runs.values()) {
      let item = runItems.get(run.id);
      if (!item) {
        const li = document.createElement('li');
        li.dataset.run = run.id;
        const label = document.createElement('label');
        const check = document.createElement('input');
        check.type = 'checkbox';
        check.checked = run.visible;
        check.addEventListener('change', () => setVisible(run.id, check.checked));
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = run.color;
        const text = document.createElement('span');
        const name = document.createElement('span');
        name.className = 'run-name';
        name.textContent = run.id;
        const meta = document.createElement('span');
        meta.className = 'run-meta';
        text.append(name, meta);
        label.append(check, swatch, text);
        li.append(label);
        item = {li, check, meta};
        runItems.set(run.id, item);
      }
      list.append(item.li);  // keeps the server's order (by id)
      const info = run.info;
      item.meta.textContent = '';
      const step = info.last_step === null ? 'no rows yet' : `step ${fmt(info.last_step)}`;
      item.meta.append(`${info.rows} rows · ${step}`);
      if (info.updated !== null && nowSeconds - info.updated < 60) {
        const live = document.createElement('span');
        live.className = 'live';
        live.title = 'written in the last minute';
        item.meta.append(live);
      }
      if (info.skipped > 0) {
        const warn = document.createElement('span');
        warn.className = 'warn';
        warn.textContent = ` · ${info.skipped} unreadable line${info.skipped === 1 ? '' : 's'} skipped`;
        item.meta.append(warn);
      }
      item.check.checked = run.visible;
    }
  }

  function setVisible(id, visible) {
    const run = state.runs.get(id);
    if (run) run.visible = visible;
    if (visible) state.hidden.delete(id); else state.hidden.add(id);
    store('hidden', [...state.hidden]);
    for (const item of runItems.values()) item.check.checked = !state.hidden.has(item.li.dataset.run);
    drawAll();
  }

  // ---- Charts -------------------------------------------------------------------------------------------------------

  function groupOf(metric) {
    const i = metric.indexOf('/');
    return i < 0 ? '' : metric.slice(0, i);
  }

  function groupFor(name) {
    let g = state.groups.get(name);
    if (g) return g;
    const el = document.createElement('details');
    el.className = 'group';
    el.open = true;
    el.dataset.group = name;
    const summary = document.createElement('summary');
    summary.textContent = name || 'metrics';
    const grid = document.createElement('div');
    grid.className = 'grid';
    el.append(summary, grid);
    el.addEventListener('toggle', () => { if (el.open) for (const c of state.charts.values()) c.draw(); });
    g = {el, grid};
    state.groups.set(name, g);
    return g;
  }

  class Chart {
    constructor(metric) {
      this.metric = metric;
      this.el = document.createElement('div');
      this.el.className = 'chart';
      this.el.dataset.metric = metric;
      const title = document.createElement('h3');
      title.textContent = metric;
      this.canvas = document.createElement('canvas');
      this.el.append(title, this.canvas);
      this.plotted = {};
      this.hoverX = null;
      this.frame = null;
      this.canvas.addEventListener('mousemove', (e) => this.hover(e));
      this.canvas.addEventListener('mouseleave', () => {
        this.hoverX = null;
        $('tooltip').hidden = true;
        this.draw();
      });
    }

    // The series to draw: each visible run's points (finite x and y; y > 0 on a log scale), raw and smoothed.
    compute() {
      const out = {};
      let points = 0;
      for (const run of state.runs.values()) {
        const s = run.series.get(this.metric);
        if (!run.visible || !s) continue;
        const xs = state.xAxis === 'elapsed' ? s.t : s.x;
        const x = [];
        const y = [];
        for (let i = 0; i < xs.length; i++) {
          const v = s.y[i];
          if (Number.isFinite(xs[i]) && Number.isFinite(v) && (!state.logScale || v > 0)) {
            x.push(xs[i]);
            y.push(v);
          }
        }
        if (!x.length) continue;
        out[run.id] = {x, y, smoothed: smooth(y, state.smoothing), color: run.color};
        points += x.length;
      }
      this.plotted = out;
      this.el.dataset.points = String(points);
      this.el.dataset.runs = Object.keys(out).join(',');
    }

    draw() {
      this.compute();
      const canvas = this.canvas;
      const w = canvas.clientWidth;
      const h = canvas.clientHeight;
      if (!w || !h) return;  // hidden: drawn when shown
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      const ctx = canvas.getContext('2d');
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      ctx.font = '11px system-ui, sans-serif';
      const series = Object.values(this.plotted);
      if (!series.length) {
        ctx.fillStyle = '#9aa0a6';
        ctx.fillText('no data for the selected runs', 10, 20);
        this.frame = null;
        return;
      }
      const ty = state.logScale ? Math.log10 : (v) => v;
      const withRaw = state.showRaw || !(state.smoothing > 0);
      let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
      for (const s of series) {
        for (let i = 0; i < s.x.length; i++) {
          xmin = Math.min(xmin, s.x[i]);
          xmax = Math.max(xmax, s.x[i]);
          for (const v of withRaw ? [s.y[i], s.smoothed[i]] : [s.smoothed[i]]) {
            const t = ty(v);
            if (Number.isFinite(t)) {
              ymin = Math.min(ymin, t);
              ymax = Math.max(ymax, t);
            }
          }
        }
      }
      if (xmax === xmin) { xmin -= 1; xmax += 1; }
      if (ymax === ymin) {
        const d = Math.abs(ymin) * 0.1 || 1;
        ymin -= d;
        ymax += d;
      } else {
        const pad = (ymax - ymin) * 0.05;
        ymin -= pad;
        ymax += pad;
      }
      const left = 58, right = 12, top = 8, bottom = 22;
      const pw = w - left - right, ph = h - top - bottom;
      const X = (x) => left + ((x - xmin) / (xmax - xmin)) * pw;
      const Y = (y) => top + (1 - (ty(y) - ymin) / (ymax - ymin)) * ph;
      this.frame = {xmin, xmax, left, pw, top, ph};

      ctx.strokeStyle = '#eceff1';
      ctx.fillStyle = '#6b7480';
      ctx.lineWidth = 1;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      for (const t of niceTicks(ymin, ymax, 5, false)) {
        const py = top + (1 - (t - ymin) / (ymax - ymin)) * ph;
        ctx.beginPath();
        ctx.moveTo(left, py);
        ctx.lineTo(left + pw, py);
        ctx.stroke();
        ctx.fillText(fmt(state.logScale ? Math.pow(10, t) : t), left - 6, py);
      }
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      for (const t of niceTicks(xmin, xmax, Math.max(2, Math.floor(pw / 80)), state.xAxis === 'step')) {
        const px = X(t);
        ctx.beginPath();
        ctx.moveTo(px, top);
        ctx.lineTo(px, top + ph);
        ctx.stroke();
        const label = fmt(t);
        const half = ctx.measureText(label).width / 2;
        ctx.fillText(label, Math.min(Math.max(px, half + 1), w - half - 1), top + ph + 5);  // inside the canvas
      }
      ctx.strokeStyle = '#b0bec5';
      ctx.strokeRect(left, top, pw, ph);

      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, pw, ph);
      ctx.clip();
      const line = (xs, ys, colour, alpha, width) => {
        ctx.globalAlpha = alpha;
        ctx.strokeStyle = colour;
        ctx.fillStyle = colour;
        ctx.lineWidth = width;
        if (xs.length === 1) {
          ctx.beginPath();
          ctx.arc(X(xs[0]), Y(ys[0]), 2.5, 0, 2 * Math.PI);
          ctx.fill();
          return;
        }
        ctx.beginPath();
        if (xs.length > 2 * pw) {  // more points than pixels: each pixel column's lowest and highest point
          let col = null, lo = 0, hi = 0, started = false;
          const flush = () => {
            if (col === null) return;
            if (started) ctx.lineTo(col, lo); else ctx.moveTo(col, lo);
            ctx.lineTo(col, hi);
            started = true;
          };
          for (let i = 0; i < xs.length; i++) {
            const px = Math.round(X(xs[i]));
            const py = Y(ys[i]);
            if (px !== col) {
              flush();
              col = px;
              lo = hi = py;
            } else {
              lo = Math.min(lo, py);
              hi = Math.max(hi, py);
            }
          }
          flush();
        } else {
          for (let i = 0; i < xs.length; i++) {
            if (i === 0) ctx.moveTo(X(xs[i]), Y(ys[i])); else ctx.lineTo(X(xs[i]), Y(ys[i]));
          }
        }
        ctx.stroke();
      };
      const smoothing = state.smoothing > 0;
      for (const s of series) {
        if (smoothing && state.showRaw) line(s.x, s.y, s.color, 0.25, 1);
        line(s.x, smoothing ? s.smoothed : s.y, s.color, 1, 1.6);
      }
      if (this.hoverX !== null) {
        ctx.globalAlpha = 1;
        ctx.strokeStyle = '#90a4ae';
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(X(this.hoverX), top);
        ctx.lineTo(X(this.hoverX), top + ph);
        ctx.stroke();
        for (const s of series) {
          const i = nearest(s.x, this.hoverX);
          ctx.fillStyle = s.color;
          ctx.beginPath();
          ctx.arc(X(s.x[i]), Y(smoothing ? s.smoothed[i] : s.y[i]), 3.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
      ctx.restore();
    }

    hover(event) {
      const f = this.frame;
      if (!f) return;
      const rect = this.canvas.getBoundingClientRect();
      const px = event.clientX - rect.left;
      this.hoverX = f.xmin + ((px - f.left) / f.pw) * (f.xmax - f.xmin);
      this.draw();
      const tip = $('tooltip');
      tip.textContent = '';
      const table = document.createElement('table');
      const head = table.insertRow();
      head.insertCell().textContent = this.metric;
      head.insertCell().textContent = state.smoothing > 0 ? 'smoothed' : 'value';
      if (state.smoothing > 0) head.insertCell().textContent = 'value';
      head.insertCell().textContent = state.xAxis === 'step' ? 'step' : 'time (s)';
      for (const [id, s] of Object.entries(this.plotted)) {
        const i = nearest(s.x, this.hoverX);
        const row = table.insertRow();
        const name = row.insertCell();
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.style.background = s.color;
        name.append(dot, id);
        row.insertCell().textContent = fmt(state.smoothing > 0 ? s.smoothed[i] : s.y[i]);
        if (state.smoothing > 0) row.insertCell().textContent = fmt(s.y[i]);
        row.insertCell().textContent = fmt(s.x[i]);
      }
      tip.append(table);
      tip.hidden = false;
      const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      const y = Math.min(event.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
      tip.style.left = `${Math.max(0, x)}px`;
      tip.style.top = `${Math.max(0, y)}px`;
    }
  }

  function filterMatches(metric) {
    return !state.filter || state.filter.test(metric);
  }

  // Charts for every metric some run has (made, removed, ordered by group then name), then the changed ones drawn.
  function syncCharts() {
    const metrics = new Set();
    for (const run of state.runs.values()) for (const m of run.series.keys()) metrics.add(m);
    let changed = false;
    for (const [metric, chart] of [...state.charts]) {
      if (metrics.has(metric)) continue;
      chart.el.remove();
      state.charts.delete(metric);
      changed = true;
    }
    for (const metric of metrics) {
      if (state.charts.has(metric)) continue;
      state.charts.set(metric, new Chart(metric));
      state.dirty.add(metric);
      changed = true;
    }
    if (changed) layoutCharts();
    for (const metric of state.dirty) {
      const chart = state.charts.get(metric);
      if (chart) chart.draw();
    }
    state.dirty.clear();
    $('metrics-empty').hidden = state.charts.size > 0;
  }

  // Within a group: the metrics people look at first, then the others by name, the clocks last.
  const FIRST = ['reward', 'loss', 'eval_reward', 'eval_loss', 'kl', 'entropy', 'reward_std', 'grad_norm',
    'learning_rate'];
  const LAST = ['epoch', 'elapsed'];
  function rank(metric) {
    const first = FIRST.indexOf(metric);
    if (first >= 0) return first;
    return LAST.includes(metric) ? FIRST.length + 1 + LAST.indexOf(metric) : FIRST.length;
  }

  function layoutCharts() {
    const names = [...state.charts.keys()].sort((a, b) => {
      const ga = groupOf(a), gb = groupOf(b);
      if (ga !== gb) return ga === '' ? -1 : gb === '' ? 1 : ga < gb ? -1 : 1;
      if (rank(a) !== rank(b)) return rank(a) - rank(b);
      return a < b ? -1 : a > b ? 1 : 0;
    });
    const used = new Set();
    for (const name of names) {
      const g = groupFor(groupOf(name));
      used.add(groupOf(name));
      g.grid.append(state.charts.get(name).el);
    }
    const container = $('groups');
    const order = [...used].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1));
    for (const name of order) container.append(state.groups.get(name).el);
    for (const [name, g] of [...state.groups]) {
      if (used.has(name)) continue;
      g.el.remove();
      state.groups.delete(name);
    }
    applyFilter();
  }

  function applyFilter() {
    for (const chart of state.charts.values()) chart.el.hidden = !filterMatches(chart.metric);
    for (const g of state.groups.values()) {
      g.el.hidden = ![...g.grid.children].some((c) => !c.hidden);
    }
  }

  function drawAll() {
    for (const chart of state.charts.values()) chart.draw();
  }

  // ---- Completions --------------------------------------------------------------------------------------------------

  const completions = {offset: 0, limit: 50, last: null};

  function fillCompletionRuns() {
    const select = $('c-run');
    const current = select.value;
    const ids = [...state.runs.values()].filter((r) => r.info.completions &&
      (r.info.completions.train !== undefined || r.info.completions.eval !== undefined)).map((r) => r.id);
    const have = [...select.options].map((o) => o.value);
    if (have.join('\n') !== ids.join('\n')) {
      select.textContent = '';
      for (const id of ids) select.append(new Option(id, id));
      if (ids.includes(current)) select.value = current;
    }
    const run = state.runs.get(select.value);
    const kinds = run ? run.info.completions : {};
    for (const option of $('c-kind').options) option.disabled = kinds[option.value] === undefined;
    if ($('c-kind').selectedOptions[0] && $('c-kind').selectedOptions[0].disabled) {
      const first = [...$('c-kind').options].find((o) => !o.disabled);
      if (first) $('c-kind').value = first.value;
    }
  }

  async function loadCompletions(quiet) {
    const run = $('c-run').value;
    if (!run) {
      $('c-summary').textContent = 'No run has logged completions yet (GRPO and PPO write completions.jsonl with ' +
        'log_completions: true).';
      $('c-list').textContent = '';
      return;
    }
    const params = new URLSearchParams({run, kind: $('c-kind').value, order: $('c-order').value,
      offset: String(completions.offset), limit: String(completions.limit)});
    if (!$('c-follow').checked && $('c-step').value !== '') params.set('step', $('c-step').value);
    if ($('c-key').value) params.set('key', $('c-key').value);
    if ($('c-min').value !== '') params.set('min', $('c-min').value);
    if ($('c-max').value !== '') params.set('max', $('c-max').value);
    let d;
    try {
      d = await fetchJSON('api/completions?' + params);
    } catch (e) {
      $('c-summary').textContent = e.message;
      return;
    }
    const signature = JSON.stringify([d.run, d.kind, d.step, d.total, d.matched, d.key, completions.offset,
      $('c-min').value, $('c-max').value, $('c-order').value]);
    window.r1dash.completions = d;
    if (quiet && signature === completions.last) return;  // nothing new: keep the reader's place
    completions.last = signature;

    const steps = $('c-step');
    if ([...steps.options].map((o) => o.value).join(',') !== d.steps.join(',')) {
      steps.textContent = '';
      for (const s of d.steps) steps.append(new Option(String(s), String(s)));
    }
    if (d.step !== null) steps.value = String(d.step);
    const keys = $('c-key');
    if ([...keys.options].map((o) => o.value).join(',') !== d.keys.join(',')) {
      keys.textContent = '';
      for (const k of d.keys) keys.append(new Option(k, k));
    }
    if (d.key) keys.value = d.key;
    const shownTo = Math.min(d.matched, completions.offset + d.rows.length);
    $('c-summary').textContent = d.step === null ? 'No completions logged yet.' :
      `step ${d.step}: ${d.matched} of ${d.total} completions` +
      (d.matched ? ` (showing ${completions.offset + 1}–${shownTo})` : '') +
      ` · ${d.steps.length} steps, ${d.lines} lines in the log` +
      (d.skipped ? ` · ${d.skipped} unreadable lines skipped` : '');
    $('c-page-prev').disabled = completions.offset === 0;
    $('c-page-next').disabled = shownTo >= d.matched;
    renderCompletions(d);
  }

  function text(value) {
    return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  }

  function renderCompletions(d) {
    const list = $('c-list');
    list.textContent = '';
    let group = null;
    let prompt;
    for (const row of d.rows) {
      if (!group || $('c-order').value !== 'file' || text(row.prompt) !== prompt) {
        prompt = text(row.prompt);
        const el = document.createElement('div');
        el.className = 'prompt-group';
        const details = document.createElement('details');
        const summary = document.createElement('summary');
        const line = prompt.replace(/\s+/g, ' ').trim();
        summary.textContent = 'prompt: ' + (line.length > 160 ? line.slice(0, 160) + '…' : line);
        const pre = document.createElement('div');
        pre.className = 'prompt';
        pre.textContent = prompt;
        details.append(summary, pre);
        el.append(details);
        list.append(el);
        group = el;
      }
      group.append(completionCard(row, d.key));
    }
  }

  function completionCard(row, key) {
    const el = document.createElement('div');
    el.className = 'completion';
    el.dataset.index = String(row.index);
    const badges = document.createElement('div');
    badges.className = 'badges';
    const extra = [];
    for (const [k, v] of Object.entries(row)) {
      if (k === 'prompt' || k === 'completion' || k === 'step' || k === 'index') continue;
      if (typeof v === 'number' || v === null) {
        const b = document.createElement('span');
        b.className = 'badge';
        if (k === key) b.classList.add('key');
        if (typeof v === 'number' && k !== 'advantage') b.classList.add(v > 0 ? 'good' : 'bad');
        b.textContent = `${k} ${v === null ? 'n/a' : fmt(v)}`;
        badges.append(b);
      } else {
        extra.push(`${k}: ${text(v)}`);
      }
    }
    const pre = document.createElement('pre');
    pre.textContent = text(row.completion);
    el.append(badges, pre);
    if (extra.length) {
      const more = document.createElement('div');
      more.className = 'hint';
      more.textContent = extra.join(' · ');
      el.append(more);
    }
    return el;
  }

  // ---- Controls -----------------------------------------------------------------------------------------------------

  function showView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.view === view);
    $('view-metrics').hidden = view !== 'metrics';
    $('view-completions').hidden = view !== 'completions';
    if (view === 'metrics') drawAll();
    if (view === 'completions') {
      fillCompletionRuns();
      completions.last = null;
      loadCompletions(false);
    }
  }

  function setup() {
    for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showView(tab.dataset.view));
    const slider = $('smoothing');
    slider.value = String(state.smoothing);
    $('smoothing-value').textContent = Number(state.smoothing).toFixed(2);
    slider.addEventListener('input', () => {
      state.smoothing = Number(slider.value);
      $('smoothing-value').textContent = state.smoothing.toFixed(2);
      store('smoothing', state.smoothing);
      drawAll();
    });
    $('show-raw').checked = state.showRaw;
    $('show-raw').addEventListener('change', () => {
      state.showRaw = $('show-raw').checked;
      store('showRaw', state.showRaw);
      drawAll();
    });
    $('x-axis').value = state.xAxis;
    $('x-axis').addEventListener('change', () => {
      state.xAxis = $('x-axis').value;
      store('xAxis', state.xAxis);
      drawAll();
    });
    $('log-scale').checked = state.logScale;
    $('log-scale').addEventListener('change', () => {
      state.logScale = $('log-scale').checked;
      store('logScale', state.logScale);
      drawAll();
    });
    $('filter').addEventListener('input', () => {
      const v = $('filter').value.trim();
      try {
        state.filter = v ? new RegExp(v, 'i') : null;
      } catch (e) {  // not a regular expression (yet): a plain substring
        const lower = v.toLowerCase();
        state.filter = {test: (m) => m.toLowerCase().includes(lower)};
      }
      applyFilter();
      drawAll();
    });
    $('runs-all').addEventListener('click', (e) => {
      e.preventDefault();
      for (const id of state.runs.keys()) setVisible(id, true);
    });
    $('runs-none').addEventListener('click', (e) => {
      e.preventDefault();
      for (const id of state.runs.keys()) setVisible(id, false);
    });
    const reload = () => {
      completions.offset = 0;
      completions.last = null;
      loadCompletions(false);
    };
    $('c-run').addEventListener('change', () => {
      fillCompletionRuns();
      reload();
    });
    $('c-kind').addEventListener('change', reload);
    $('c-step').addEventListener('change', () => {
      $('c-follow').checked = false;
      reload();
    });
    const stepBy = (delta) => {
      const steps = $('c-step');
      const i = steps.selectedIndex + delta;
      if (i < 0 || i >= steps.options.length) return;
      steps.selectedIndex = i;
      $('c-follow').checked = false;
      reload();
    };
    $('c-prev').addEventListener('click', () => stepBy(-1));
    $('c-next').addEventListener('click', () => stepBy(1));
    $('c-follow').addEventListener('change', reload);
    for (const id of ['c-key', 'c-order']) $(id).addEventListener('change', reload);
    for (const id of ['c-min', 'c-max']) $(id).addEventListener('change', reload);
    $('completions-form').addEventListener('submit', (e) => {
      e.preventDefault();
      reload();
    });
    $('c-page-prev').addEventListener('click', () => {
      completions.offset = Math.max(0, completions.offset - completions.limit);
      completions.last = null;
      loadCompletions(false);
    });
    $('c-page-next').addEventListener('click', () => {
      completions.offset += completions.limit;
      completions.last = null;
      loadCompletions(false);
    });
    let resizing = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(drawAll, 100);
    });
  }

  window.r1dash = {
    state,
    completions: null,  // the last /api/completions answer shown
    get polls() { return state.polls; },
    get updates() { return state.updates; },
    // What every chart drew: [{metric, hidden, runs: {id: {x, y, smoothed, color}}}].
    charts() {
      return [...state.charts.values()].map((c) => ({metric: c.metric, hidden: c.el.hidden, runs: c.plotted}));
    },
    setSmoothing(weight) {
      $('smoothing').value = String(weight);
      $('smoothing').dispatchEvent(new Event('input'));
    },
    showView,
  };

  setup();
  loop();
})();
