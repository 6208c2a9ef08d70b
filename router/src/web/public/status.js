// The router's status page: polls /status.json and draws each series as a small SVG line chart.
(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const WIDTH = 300;
  const HEIGHT = 90;
  const KEY_STORAGE = 'memegraph:status:api-key';
  const state = document.getElementById('state');
  const auth = document.getElementById('auth');
  const keyField = document.getElementById('api-key');
  keyField.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
  let timer;

  auth.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = keyField.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    clearTimeout(timer);
    poll();
  });

  const round = (value, digits = 1) =>
    value === null || value === undefined ? '–' : Number(value.toFixed(digits)).toLocaleString('en');

  /** The smallest of 1, 2, 5 × 10ⁿ at or above `value`: a scale that reads well. */
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  /** Redraws one chart: a path per series over the last `history` intervals, newest at the right. */
  function draw(name, series, { history, max, unit, now }) {
    const figure = document.querySelector(`[data-chart="${name}"]`);
    const svg = figure.querySelector('svg');
    const values = series.flatMap((s) => s.values).filter((v) => v !== null);
    const top = max ?? niceMax(Math.max(0, ...values));
    svg.replaceChildren();
    series.forEach((s, index) => {
      const path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('class', `s${index % 6}`);
      path.dataset.series = s.name;
      const offset = history - s.values.length;
      let d = '';
      let pen = false;
      s.values.forEach((value, i) => {
        if (value === null) {
          pen = false;
          return;
        }
        const x = ((offset + i) / Math.max(1, history - 1)) * WIDTH;
        const y = HEIGHT - 2 - (Math.min(value, top) / top) * (HEIGHT - 8);
        d += `${pen ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`;
        pen = true;
      });
      path.setAttribute('d', d);
      svg.append(path);
      // The newest value as a dot, so a series of one point shows too.
      const point = d.match(/[ML]([\d.]+) ([\d.]+)$/);
      if (point) {
        const dot = document.createElementNS(SVG_NS, 'path');
        dot.setAttribute('class', `s${index % 6} dot`);
        dot.setAttribute('d', `M${point[1]} ${point[2]}h0`);
        svg.append(dot);
      }
    });
    const legend = figure.querySelector('.legend');
    legend.replaceChildren(
      ...series.map((s, index) => {
        const item = document.createElement('li');
        item.className = `s${index % 6}`;
        item.textContent = s.name;
        return item;
      }),
      Object.assign(document.createElement('li'), {
        className: 'scale',
        textContent: `scale 0–${round(top, 2)}${unit}`,
      }),
    );
    figure.querySelector('[data-now]').textContent = now;
    figure.dataset.last = JSON.stringify(series.map((s) => s.values.at(-1) ?? null));
  }

  function cell(row, text, good) {
    const td = row.insertCell();
    td.textContent = text;
    if (good !== undefined) td.dataset.good = String(good);
    return td;
  }

  function render(report) {
    const { samples, history } = report;
    const last = samples.at(-1) ?? null;
    const options = (unit, now, max) => ({ history, unit, now, max });
    draw(
      'requests',
      [{ name: 'requests/s', values: samples.map((s) => s.requestsPerSecond) }],
      options('/s', last ? `${round(last.requestsPerSecond)}/s` : '–'),
    );
    draw(
      'latency',
      [
        { name: 'p50', values: samples.map((s) => s.p50Ms) },
        { name: 'p99', values: samples.map((s) => s.p99Ms) },
      ],
      options(' ms', last && last.p99Ms !== null ? `${round(last.p50Ms)} / ${round(last.p99Ms)} ms` : '–'),
    );
    const percent = (v) => (v === null ? null : v * 100);
    draw(
      'cache',
      [
        { name: 'local', values: samples.map((s) => percent(s.cacheHitRatio.local)) },
        { name: 'redis', values: samples.map((s) => percent(s.cacheHitRatio.redis)) },
      ],
      options(
        '%',
        last && last.cacheHitRatio.local !== null ? `${round(percent(last.cacheHitRatio.local), 0)}%` : '–',
        100,
      ),
    );
    const reasons = [...new Set(samples.flatMap((s) => Object.keys(s.rejectionsPerSecond)))].sort();
    const rejectionSeries = reasons.length
      ? reasons.map((reason) => ({ name: reason, values: samples.map((s) => s.rejectionsPerSecond[reason] ?? 0) }))
      : [{ name: 'none', values: samples.map(() => 0) }];
    const rejectedNow = last ? Object.values(last.rejectionsPerSecond).reduce((a, b) => a + b, 0) : null;
    draw('rejections', rejectionSeries, options('/s', rejectedNow === null ? '–' : `${round(rejectedNow)}/s`));
    draw(
      'ai',
      [
        { name: 'waiting', values: samples.map((s) => s.aiWaiting) },
        { name: 'running', values: samples.map((s) => s.aiActive) },
      ],
      options(' jobs', report.ai.state === 'ok' ? `${report.ai.waiting} / ${report.ai.active}` : 'unavailable'),
    );

    const subgraphs = document.querySelector('#subgraphs tbody');
    subgraphs.replaceChildren();
    for (const subgraph of report.subgraphs) {
      const row = subgraphs.insertRow();
      row.dataset.subgraph = subgraph.name;
      cell(row, subgraph.name);
      cell(row, subgraph.ready, subgraph.ready === 'ok');
      cell(row, subgraph.breaker, subgraph.breaker === 'closed');
    }
    document.getElementById('redis').textContent = report.redis;

    const keys = document.querySelector('#ai-keys tbody');
    keys.replaceChildren();
    const summary = document.getElementById('ai-summary');
    if (report.ai.state === 'ok') {
      const { ai } = report;
      const healthy = ai.keys.filter((k) => k.breaker === 'CLOSED' && !k.coolingUntil).length;
      summary.textContent = `${healthy} of ${ai.keys.length} keys healthy · ${ai.waiting} waiting, ${ai.active} running · ${ai.succeeded} succeeded, ${ai.failed} failed · mean wait ${round(ai.meanWaitSeconds, 2)} s, run ${round(ai.meanRunSeconds, 2)} s`;
      for (const key of ai.keys) {
        const row = keys.insertRow();
        cell(row, key.provider);
        cell(row, key.key);
        cell(row, key.breaker.toLowerCase().replace('_', '-'), key.breaker === 'CLOSED');
        cell(row, String(key.inFlight));
        cell(row, String(key.successes));
        cell(row, String(key.failures));
        cell(row, `${round(key.latencyMs, 0)} ms`);
        cell(row, key.coolingUntil ? new Date(key.coolingUntil).toLocaleTimeString() : '–');
      }
    } else {
      summary.textContent = `The ai subgraph did not answer: ${report.ai.error}`;
    }

    const totals = document.querySelector('#totals tbody');
    totals.replaceChildren();
    const addTotal = (label, value) => {
      const row = totals.insertRow();
      cell(row, label);
      cell(row, value);
    };
    if (report.totals) {
      addTotal('requests', report.totals.requests.toLocaleString('en'));
      for (const [layer, results] of Object.entries(report.totals.cache)) {
        addTotal(
          `cache ${layer}`,
          Object.entries(results)
            .map(([result, n]) => `${n.toLocaleString('en')} ${result}`)
            .join(', '),
        );
      }
      for (const [reason, n] of Object.entries(report.totals.rejections))
        addTotal(`rejected: ${reason}`, n.toLocaleString('en'));
    }
  }

  async function poll() {
    let pause = 2000;
    try {
      const key = sessionStorage.getItem(KEY_STORAGE);
      const response = await fetch('/status.json', { headers: key ? { 'x-api-key': key } : {}, cache: 'no-store' });
      if (response.status === 401 || response.status === 403) {
        const body = await response.json();
        state.dataset.state = 'locked';
        state.textContent = body.errors?.[0]?.message ?? 'for operators only';
        auth.hidden = false;
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const report = await response.json();
      pause = report.sampleMs;
      render(report);
      state.dataset.state = 'live';
      state.textContent = `live · ${new Date(report.at).toLocaleTimeString()}`;
      document.body.dataset.updated = String(report.at);
    } catch (error) {
      state.dataset.state = 'error';
      state.textContent = `not updating: ${error.message}`;
    }
    timer = setTimeout(poll, pause);
  }
  poll();
})();
