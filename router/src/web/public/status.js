// The router's status page: polls /status.json and draws each series as a line chart with axes,
// the newest value in the caption and the legend, and every interval's values on hover.
(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const HEIGHT = 120;
  /** Room for the value axis on the left and the time axis below. */
  const PLOT = { left: 44, right: 8, top: 8, bottom: 18 };
  const KEY_STORAGE = 'memegraph:status:api-key';
  const state = document.getElementById('state');
  const auth = document.getElementById('auth');
  const keyField = document.getElementById('api-key');
  keyField.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
  let timer;
  /** The last report drawn, so a resize or a hover redraws from it. */
  let lastReport;

  auth.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = keyField.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    clearTimeout(timer);
    poll();
  });

  /** One formatting for a number wherever it shows (caption, legend, hover, axis), so the panels agree. */
  const round = (value, digits = 1) =>
    value === null || value === undefined ? '–' : Number(value.toFixed(digits)).toLocaleString('en');

  /** The smallest of 1, 2, 5 × 10ⁿ at or above `value`: a scale that reads well. */
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  const svgElement = (name, attributes, text) => {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = text;
    return element;
  };

  /** How long ago an interval ended, as the time axis and the hover say it. */
  function ago(seconds) {
    if (seconds < 1) return 'now';
    if (seconds < 90) return `−${Math.round(seconds)} s`;
    return `−${round(seconds / 60, seconds < 600 ? 1 : 0)} min`;
  }

  /** Every chart's geometry for the report: where interval i of `history` is drawn. */
  function geometry(svg, history) {
    const width = Math.max(160, Math.round(svg.getBoundingClientRect().width) || 300);
    const plotWidth = width - PLOT.left - PLOT.right;
    const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
    const x = (slot) => PLOT.left + (slot / Math.max(1, history - 1)) * plotWidth;
    return { width, plotWidth, plotHeight, x };
  }

  /**
   * Redraws one chart: axes, a path per series over the last `history` intervals (newest at the
   * right; an interval with no value leaves a gap, a lone value shows as a dot), and, when no
   * interval had anything to measure, the chart's idle text ("no traffic") over it.
   */
  function draw(name, series, { history, sampleMs, max, unit, now, idle, idleText, whole }) {
    const figure = document.querySelector(`[data-chart="${name}"]`);
    const svg = figure.querySelector('svg');
    const { width, plotWidth, plotHeight, x } = geometry(svg, history);
    svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    svg.setAttribute('height', String(HEIGHT));
    const values = series.flatMap((s) => s.values).filter((v) => v !== null);
    // A count (jobs) keeps whole ticks: its scale starts at 2, so half of it is 1.
    const top = max ?? (whole ? Math.max(2, niceMax(Math.max(0, ...values))) : niceMax(Math.max(0, ...values)));
    const y = (value) => PLOT.top + plotHeight - (Math.min(value, top) / top) * plotHeight;
    svg.replaceChildren();

    // Value axis: 0, half and the top of the scale, with the unit.
    const axes = svgElement('g', { class: 'axes' });
    for (const tick of [0, top / 2, top]) {
      axes.append(
        svgElement('line', { x1: PLOT.left, x2: width - PLOT.right, y1: y(tick), y2: y(tick), class: 'grid' }),
        svgElement('text', { x: PLOT.left - 4, y: y(tick) + 3, 'text-anchor': 'end' }, `${round(tick, 2)}${unit}`),
      );
    }
    // Time axis: the oldest interval kept, the middle, and now.
    const span = ((history - 1) * sampleMs) / 1000;
    for (const [slot, anchor] of [
      [0, 'start'],
      [(history - 1) / 2, 'middle'],
      [history - 1, 'end'],
    ]) {
      axes.append(
        svgElement('text', { x: x(slot), y: HEIGHT - 4, 'text-anchor': anchor }, ago(span - (slot * sampleMs) / 1000)),
      );
    }
    axes.append(
      svgElement('line', { x1: PLOT.left, x2: PLOT.left, y1: PLOT.top, y2: PLOT.top + plotHeight, class: 'axis' }),
    );
    svg.append(axes);

    const isIdle = idle ?? values.length === 0;
    figure.dataset.idle = String(isIdle);
    series.forEach((s, index) => {
      const offset = history - s.values.length;
      let d = '';
      s.values.forEach((value, i) => {
        if (value === null) return;
        const previous = i > 0 ? s.values[i - 1] : null;
        d += `${previous === null ? 'M' : 'L'}${x(offset + i).toFixed(1)} ${y(value).toFixed(1)}`;
      });
      const path = svgElement('path', { class: `s${index % 6}`, d });
      path.dataset.series = s.name;
      svg.append(path);
      // Lone values (no neighbour on either side) and the newest one as dots, so they show too.
      s.values.forEach((value, i) => {
        if (value === null) return;
        const lone = (i === 0 || s.values[i - 1] === null) && (i === s.values.length - 1 || s.values[i + 1] === null);
        if (lone || i === s.values.length - 1)
          svg.append(svgElement('circle', { class: `s${index % 6} dot`, cx: x(offset + i), cy: y(value), r: 2.5 }));
      });
    });
    if (isIdle) {
      svg.append(
        svgElement(
          'text',
          { x: PLOT.left + plotWidth / 2, y: PLOT.top + plotHeight / 2 + 4, 'text-anchor': 'middle', class: 'idle' },
          idleText,
        ),
      );
    }

    const latest = series.map((s) => s.values.at(-1) ?? null);
    const legend = figure.querySelector('.legend');
    legend.replaceChildren(
      ...series.map((s, index) => {
        const item = document.createElement('li');
        item.className = `s${index % 6}`;
        item.textContent = s.name;
        const value = document.createElement('b');
        value.textContent = latest[index] === null ? '–' : `${round(latest[index])}${unit}`;
        item.append(' ', value);
        return item;
      }),
    );
    figure.querySelector('[data-now]').textContent = now;
    figure.dataset.last = JSON.stringify(latest);
    figure.hoverData = { series, history, sampleMs, unit, x, width, y };
    if (figure.hoverAt !== undefined) showHover(figure, figure.hoverAt);
  }

  /** The values of the interval under the pointer: a guide line and a box with the time and each series' value. */
  function showHover(figure, clientX) {
    const data = figure.hoverData;
    const svg = figure.querySelector('svg');
    const tip = figure.querySelector('.tip');
    if (!data) return;
    const box = svg.getBoundingClientRect();
    const px = ((clientX - box.left) / box.width) * data.width;
    const slot = Math.round(((px - PLOT.left) / (data.width - PLOT.left - PLOT.right)) * (data.history - 1));
    const clamped = Math.min(data.history - 1, Math.max(0, slot));
    svg.querySelector('.guide')?.remove();
    const gx = data.x(clamped);
    svg.append(svgElement('line', { class: 'guide', x1: gx, x2: gx, y1: PLOT.top, y2: HEIGHT - PLOT.bottom }));
    const seconds = ((data.history - 1 - clamped) * data.sampleMs) / 1000;
    const rows = data.series.map((s, index) => {
      const value = s.values[clamped - (data.history - s.values.length)];
      return `<span class="s${index % 6}">${escape(s.name)}</span> ${value === null || value === undefined ? '–' : `${round(value)}${escape(data.unit)}`}`;
    });
    tip.innerHTML = `<div>${ago(seconds)}</div>${rows.map((r) => `<div>${r}</div>`).join('')}`;
    tip.hidden = false;
    const figureBox = figure.getBoundingClientRect();
    const left = box.left - figureBox.left + (gx / data.width) * box.width;
    tip.style.left = `${Math.min(Math.max(0, left + 8), figure.clientWidth - tip.offsetWidth)}px`;
    tip.style.top = `${box.top - figureBox.top}px`;
  }

  const escape = (text) =>
    String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

  for (const figure of document.querySelectorAll('[data-chart]')) {
    const svg = figure.querySelector('svg');
    svg.addEventListener('pointermove', (event) => {
      figure.hoverAt = event.clientX;
      showHover(figure, event.clientX);
    });
    svg.addEventListener('pointerleave', () => {
      figure.hoverAt = undefined;
      figure.querySelector('.tip').hidden = true;
      svg.querySelector('.guide')?.remove();
    });
  }
  // The charts are drawn at their width, so a new width redraws them.
  let resizing;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => lastReport && render(lastReport));
  });

  function cell(row, text, good) {
    const td = row.insertCell();
    td.textContent = text;
    if (good !== undefined) td.dataset.good = String(good);
    return td;
  }

  function render(report) {
    lastReport = report;
    const { samples, history, sampleMs } = report;
    const last = samples.at(-1) ?? null;
    const options = (unit, now, extra = {}) => ({ history, sampleMs, unit, now, ...extra });
    const noTraffic = samples.every((s) => s.requestsPerSecond === 0);
    draw(
      'requests',
      [{ name: 'requests', values: samples.map((s) => s.requestsPerSecond) }],
      options('/s', last ? `${round(last.requestsPerSecond)}/s` : '–', { idle: noTraffic, idleText: 'no traffic' }),
    );
    draw(
      'latency',
      [
        { name: 'p50', values: samples.map((s) => s.p50Ms) },
        { name: 'p99', values: samples.map((s) => s.p99Ms) },
      ],
      options(' ms', last && last.p99Ms !== null ? `${round(last.p50Ms)} / ${round(last.p99Ms)} ms` : '–', {
        idleText: 'no traffic',
      }),
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
        { max: 100, idleText: 'no cache lookups' },
      ),
    );
    const reasons = [...new Set(samples.flatMap((s) => Object.keys(s.rejectionsPerSecond)))].sort();
    const rejectionSeries = reasons.length
      ? reasons.map((reason) => ({ name: reason, values: samples.map((s) => s.rejectionsPerSecond[reason] ?? 0) }))
      : [{ name: 'none', values: samples.map(() => 0) }];
    const rejectedNow = last ? Object.values(last.rejectionsPerSecond).reduce((a, b) => a + b, 0) : null;
    draw(
      'rejections',
      rejectionSeries,
      options('/s', rejectedNow === null ? '–' : `${round(rejectedNow)}/s`, {
        idle: noTraffic,
        idleText: 'no traffic',
      }),
    );
    // The queue's numbers come from the newest sample, as its chart's last point; before the first, from the report.
    const queueNow =
      last && last.aiWaiting !== null
        ? { waiting: last.aiWaiting, active: last.aiActive }
        : report.ai.state === 'ok'
          ? { waiting: report.ai.waiting, active: report.ai.active }
          : null;
    draw(
      'ai',
      [
        { name: 'waiting', values: samples.map((s) => s.aiWaiting) },
        { name: 'running', values: samples.map((s) => s.aiActive) },
      ],
      options(' jobs', queueNow ? `${queueNow.waiting} / ${queueNow.active}` : 'unavailable', {
        idleText: report.ai.state === 'ok' ? 'no samples yet' : 'the ai subgraph did not answer',
        whole: true,
      }),
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
      const queue = queueNow ?? ai;
      summary.textContent = `${healthy} of ${ai.keys.length} keys healthy · ${queue.waiting} waiting, ${queue.active} running · ${ai.succeeded} succeeded, ${ai.failed} failed · mean wait ${round(ai.meanWaitSeconds, 2)} s, run ${round(ai.meanRunSeconds, 2)} s`;
      for (const key of ai.keys) {
        const row = keys.insertRow();
        cell(row, key.provider);
        cell(row, key.key);
        cell(row, key.breaker.toLowerCase().replace('_', '-'), key.breaker === 'CLOSED');
        cell(row, String(key.inFlight));
        cell(row, String(key.successes));
        cell(row, String(key.failures));
        cell(row, key.latencyMs === null ? '–' : `${round(key.latencyMs, 0)} ms`);
        cell(row, key.coolingUntil ? new Date(key.coolingUntil).toLocaleTimeString() : '–');
      }
    } else {
      summary.textContent = `The ai subgraph did not answer: ${report.ai.error}`;
    }

    const totals = document.querySelector('#totals tbody');
    totals.replaceChildren();
    const addTotal = (label, value) => {
      const row = totals.insertRow();
      cell(row, label).className = 'label';
      cell(row, value);
    };
    if (report.totals) {
      addTotal('requests', report.totals.requests.toLocaleString('en'));
      for (const [layer, results] of Object.entries(report.totals.cache)) {
        const lookups = Object.values(results).reduce((a, b) => a + b, 0);
        const hits = results.hit ?? 0;
        addTotal(
          `cache ${layer}`,
          `${Object.entries(results)
            .map(([result, n]) => `${n.toLocaleString('en')} ${result}`)
            .join(', ')}${lookups > 0 ? ` (${round((hits / lookups) * 100, 0)}% hits)` : ''}`,
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
