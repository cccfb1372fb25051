// Deliveries: find them by event, configuration, status and time; an event with its payload,
// deliveries and attempts; retry.
import { api, query } from "./api.js";
import { html, useState } from "./lib.js";
import { CommitInput, Empty, ErrorMessage, Headers, JsonView, Loading, Pager, StatusBadge, time, useAction, useEventTypes, useLoad } from "./ui.js";

const statuses = ["pending", "delivering", "succeeded", "failed"];
const open = (d) => d.status === "pending" || d.status === "delivering";
// A FIFO configuration's delivery waiting for an earlier one: pending, with no time of its own.
const waiting = (d) => d.status === "pending" && !d.nextAttemptAt;
// The API refuses a retry of one being delivered or waiting for its turn.
const retriable = (d) => d.status !== "delivering" && !waiting(d);
// When the next attempt is due, or, for a pending delivery without one, why: a FIFO
// configuration's delivery waits for the one before it to succeed or fail.
const nextAttempt = (d) => {
  if (d.nextAttemptAt) return " · next " + time(d.nextAttemptAt);
  return waiting(d) ? " · waits for an earlier delivery to this configuration (FIFO)" : "";
};

function hashWith(params) {
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined));
  return "#/deliveries?" + new URLSearchParams(clean);
}

// <input type=datetime-local> shows local time; the API takes RFC 3339.
function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

// A datetime-local input for the RFC 3339 time in params[name].
function TimeFilter({ label, name, params, set }) {
  return html`<label>${label}<${CommitInput} type="datetime-local" value=${toLocalInput(params[name])}
    onCommit=${(local) => set(name, local ? new Date(local).toISOString() : "")} /></label>`;
}

export function DeliveryList({ params, org }) {
  const [eventId, setEventId] = useState(params.eventId || "");
  const types = useEventTypes();
  const filters = ["eventId", "externalEventId", "eventName", "status", "since", "until", "cursor"];
  const { data, error, loading } = useLoad(
    () => api("GET", "/deliveries" + query({
      organizationId: org, ...Object.fromEntries(filters.map((f) => [f, params[f]])), limit: 50,
    })),
    [org, ...filters.map((f) => params[f])],
  );
  const set = (name, value) => (location.hash = hashWith({ ...params, [name]: value, cursor: "" }));
  const findEvent = (e) => {
    e.preventDefault();
    if (eventId.trim()) location.hash = "#/events/" + encodeURIComponent(eventId.trim());
  };
  return html`<section>
    <h1>Deliveries</h1>
    <form class="filters" onSubmit=${findEvent}>
      <label>Event id<input value=${eventId} onInput=${(e) => setEventId(e.target.value)} placeholder="evt_…" /></label>
      <button type="submit" class="secondary">Open event</button>
    </form>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Configuration id<${CommitInput} type="number" min="1" value=${params.externalEventId || ""}
        onCommit=${(id) => set("externalEventId", id)} /></label>
      <label>Event type<select value=${params.eventName || ""} onChange=${(e) => set("eventName", e.target.value)}>
        <option value="">any</option>${(types.data || []).map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
      </select></label>
      <label>Status<select value=${params.status || ""} onChange=${(e) => set("status", e.target.value)}>
        <option value="">any</option>${statuses.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
      </select></label>
      <${TimeFilter} label="Created since" name="since" params=${params} set=${set} />
      <${TimeFilter} label="Created before" name="until" params=${params} set=${set} />
    </form>
    <${ErrorMessage} error=${error} />
    ${loading ? html`<${Loading} what="deliveries" />` : null}
    ${data && !loading && data.data.length === 0 ? html`<${Empty}>No delivery matches.</${Empty}>` : null}
    ${data && data.data.length > 0
      ? html`<div class="table-wrap" aria-busy=${loading ? "true" : null}><table>
        <thead><tr><th>Event</th><th>Configuration</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Created</th></tr></thead>
        <tbody>${data.data.map((d) => html`<tr key=${d.id}>
          <td class="id"><a href=${"#/events/" + d.eventId}>${d.eventId}</a></td>
          <td><a href=${"#/configs/" + d.externalEventId}>${d.externalEventId}</a></td>
          <td><${StatusBadge} status=${d.status} /></td><td>${d.attemptCount}</td>
          <td>${d.lastStatusCode ?? d.lastError ?? "—"}</td><td>${time(d.createdAt)}</td></tr>`)}</tbody>
      </table></div>`
      : null}
    <${Pager} first=${params.cursor ? hashWith({ ...params, cursor: "" }) : null}
      next=${data?.nextCursor ? hashWith({ ...params, cursor: data.nextCursor }) : null} />
  </section>`;
}

function Attempt({ attempt }) {
  return html`<li class="attempt">
    <p><strong>${attempt.statusCode ?? "no response"}</strong>${` · ${time(attempt.attemptedAt)} · ${attempt.durationMs} ms · ${attempt.trigger}`}
      ${attempt.error ? html`<span class="error-text">${" · " + attempt.error}</span>` : null}</p>
    <details><summary>Request headers</summary><${Headers} headers=${attempt.requestHeaders} /></details>
    <details><summary>Response headers</summary><${Headers} headers=${attempt.responseHeaders} /></details>
    <details open><summary>Response body</summary><pre>${attempt.responseBody || "(empty)"}</pre></details>
  </li>`;
}

function Delivery({ delivery, onRetried }) {
  const { busy, error, run } = useAction();
  const attempts = useLoad(() => api("GET", `/deliveries/${delivery.id}/attempts`), [delivery.id, delivery.updatedAt]);
  const retry = run(async () => {
    await api("POST", `/deliveries/${delivery.id}/retry`, {});
    onRetried();
  });
  return html`<article class="card delivery" id=${delivery.id}>
    <div class="title-row">
      <h3>To <a href=${"#/configs/" + delivery.externalEventId}>configuration ${delivery.externalEventId}</a></h3>
      <${StatusBadge} status=${delivery.status} />
    </div>
    <p class="muted">${`${delivery.id} · ${delivery.attemptCount} ${delivery.attemptCount === 1 ? "attempt" : "attempts"}`}${nextAttempt(delivery)}</p>
    ${retriable(delivery) ? html`<button type="button" class="secondary" disabled=${busy} onClick=${retry}>Retry now</button>` : null}
    <${ErrorMessage} error=${error} />
    <${ErrorMessage} error=${attempts.error} />
    ${attempts.data && attempts.data.data.length === 0 ? html`<${Empty}>No attempt yet.</${Empty}>` : null}
    ${attempts.data ? html`<ol class="attempts">${attempts.data.data.map((a) => html`<${Attempt} key=${a.id} attempt=${a} />`)}</ol>` : null}
  </article>`;
}

// The receivers' answers to an InferenceTo* event: each succeeded delivery's response body.
// `version` changes whenever a delivery's state does, so a result shows up once it arrives.
function InferenceResult({ id, version }) {
  const { data, error, loading } = useLoad(() => api("GET", `/events/${id}/result`), [id, version]);
  return html`<section class="inference">
    <h2>Inference result</h2>
    <${ErrorMessage} error=${error} />
    ${loading && !data ? html`<${Loading} what="the result" />` : null}
    ${data && data.results.length === 0 ? html`<${Empty}>No delivery, so no result.</${Empty}>` : null}
    ${(data?.results || []).map((r) => html`<article key=${r.deliveryId} class="card">
      <div class="title-row">
        <h3>From <a href=${"#/configs/" + r.externalEventId}>configuration ${r.externalEventId}</a></h3>
        <${StatusBadge} status=${r.status} />
      </div>
      ${r.resultError ? html`<p class="error">${r.resultError}</p>` : null}
      ${r.result !== null && r.result !== undefined
        ? html`<${JsonView} value=${r.result} />`
        : r.resultError ? null : html`<${Empty}>No result yet: the delivery has not succeeded.</${Empty}>`}
    </article>`)}
  </section>`;
}

export function EventPage({ id }) {
  const { data, error, loading, reload } = useLoad(() => api("GET", "/events/" + encodeURIComponent(id)), [id], {
    refreshMs: 1500,
    keepRefreshing: (event) => Boolean(event && event.deliveries.some(open)),
  });
  if (loading && !data) return html`<${Loading} what="the event" />`;
  if (error) return html`<section><h1>Event ${id}</h1><${ErrorMessage} error=${error} /></section>`;
  return html`<section>
    <h1>${data.eventName} event</h1>
    <dl class="facts">
      <div><dt>Id</dt><dd>${data.id}</dd></div>
      <div><dt>Organization</dt><dd>${data.organizationId}</dd></div>
      <div><dt>Accepted</dt><dd>${time(data.createdAt)}</dd></div>
      <div><dt>Idempotency key</dt><dd>${data.idempotencyKey ?? "—"}</dd></div>
    </dl>
    ${data.eventName.startsWith("InferenceTo")
      ? html`<${InferenceResult} id=${data.id} version=${data.deliveries.map((d) => d.status + d.updatedAt).join()} />`
      : null}
    <h2>Payload</h2>
    <div class="card"><${JsonView} value=${data.payload} /></div>
    <h2>Deliveries${data.deliveries.some(open) ? html` <span class="muted">(refreshing)</span>` : null}</h2>
    ${data.deliveries.length === 0 ? html`<${Empty}>No active configuration subscribed to this event.</${Empty}>` : null}
    ${data.deliveries.map((d) => html`<${Delivery} key=${d.id} delivery=${d} onRetried=${reload} />`)}
  </section>`;
}
