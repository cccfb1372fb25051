// Overview: deliveries per minute by outcome, what is open now, latency, what fails.
import { api, query } from "./api.js";
import { html } from "./lib.js";
import { Empty, ErrorMessage, Loading, useLoad } from "./ui.js";

const minute = 60_000;
const outcomes = ["succeeded", "failed", "pending", "delivering"];
// The last hour or day, per minute: the window starts on a minute so that buckets do too.
const windows = { hour: 59, day: 1439 };

function Chart({ buckets }) {
  const height = 100;
  const max = Math.max(1, ...buckets.map((b) => outcomes.reduce((sum, o) => sum + b[o], 0)));
  const bars = [];
  buckets.forEach((b, i) => {
    let y = height;
    for (const o of outcomes) {
      if (!b[o]) continue;
      const h = (b[o] / max) * height;
      y -= h;
      bars.push(html`<rect key=${i + o} class=${"bar-" + o} x=${i + 0.1} y=${y} width="0.8" height=${h}>
        <title>${new Date(b.start).toLocaleTimeString()}: ${b[o]} ${o}</title></rect>`);
    }
  });
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${buckets.length} ${height}`} preserveAspectRatio="none" role="img"
      aria-label=${`Deliveries per minute, at most ${max}`}>${bars}</svg>
    <figcaption>
      <span>${new Date(buckets[0].start).toLocaleTimeString()}</span>
      <span class="legend">${outcomes.map((o) => html`<span key=${o}><i class=${"swatch bar-" + o}></i>${o}</span>`)}</span>
      <span>now · peak ${max}/min</span>
    </figcaption>
  </figure>`;
}

function Totals({ buckets }) {
  const total = (o) => buckets.reduce((sum, b) => sum + b[o], 0);
  return html`<dl class="tiles">${outcomes.map((o) => html`<div key=${o}><dt>${o}</dt><dd>${total(o)}</dd></div>`)}</dl>`;
}

function ms(value) {
  if (value === null) return "—";
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(1)} s`;
}

export function Overview({ params, org }) {
  const span = params.window === "day" ? "day" : "hour";
  const load = () => {
    const since = new Date(Math.floor(Date.now() / minute) * minute - windows[span] * minute).toISOString();
    return api("GET", "/stats" + query({ since, bucket: 60, organizationId: org }));
  };
  // The day's window is 24 times the hour's to read (docs/console.md): it refreshes less often.
  const refreshMs = span === "day" ? 60000 : 15000;
  const { data, error, loading } = useLoad(load, [span, org], { refreshMs, keepRefreshing: () => true });
  const link = (w) => "#/overview?" + new URLSearchParams({ ...params, window: w });
  return html`<section>
    <div class="title-row">
      <h1>Overview</h1>
      <div class="tabs" role="group" aria-label="Window">
        <a href=${link("hour")} aria-current=${span === "hour" ? "page" : null}>Last hour</a>
        <a href=${link("day")} aria-current=${span === "day" ? "page" : null}>Last day</a>
      </div>
    </div>
    <${ErrorMessage} error=${error} />
    ${loading && !data ? html`<${Loading} what="the overview" />` : null}
    ${data
      ? html`
        <h2>Deliveries per minute, by current status</h2>
        <${Chart} buckets=${data.buckets} />
        <${Totals} buckets=${data.buckets} />
        <dl class="tiles">
          <div><dt>Pending now</dt><dd>${data.open.pending}</dd></div>
          <div><dt>In flight now</dt><dd>${data.open.delivering}</dd></div>
          <div><dt>202 → arrival p50</dt><dd>${ms(data.latencyMs.p50)}</dd></div>
          <div><dt>202 → arrival p99</dt><dd>${ms(data.latencyMs.p99)}</dd></div>
        </dl>
        <div class="columns">
          <div>
            <h2>Most failures</h2>
            ${data.topFailing.length === 0
              ? html`<${Empty}>No failed or retrying deliveries in this window.</${Empty}>`
              : html`<table><thead><tr><th>Configuration</th><th>Failed</th><th>Retrying</th></tr></thead><tbody>
                ${data.topFailing.map((c) => html`<tr key=${c.externalEventId}>
                  <td><a href=${"#/configs/" + c.externalEventId}>${c.name}</a></td><td>${c.failed}</td><td>${c.retrying}</td></tr>`)}
              </tbody></table>`}
          </div>
          <div>
            <h2>Deactivated by webhookd</h2>
            ${data.disabled.length === 0
              ? html`<${Empty}>No configuration was deactivated.</${Empty}>`
              : html`<table><thead><tr><th>Configuration</th><th>Why</th></tr></thead><tbody>
                ${data.disabled.map((c) => html`<tr key=${c.externalEventId}>
                  <td><a href=${"#/configs/" + c.externalEventId}>${c.name}</a></td><td>${c.disabledReason}</td></tr>`)}
              </tbody></table>`}
          </div>
        </div>`
      : null}
  </section>`;
}
