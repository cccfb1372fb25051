// The 12 event types: schema, sample payload and headers, and sending the sample as an event.
import { api } from "./api.js";
import { html, useState } from "./lib.js";
import { ErrorMessage, JsonView, Loading, useAction, useLoad } from "./ui.js";

export function EventTypeList() {
  const { data, error, loading } = useLoad(() => api("GET", "/event-types"), []);
  return html`<section>
    <h1>Event types</h1>
    <${ErrorMessage} error=${error} />
    ${loading ? html`<${Loading} what="event types" />` : null}
    ${data ? html`<ul class="type-list">${data.data.map((t) => html`<li key=${t.name} class="card">
      <a href=${"#/event-types/" + t.name}><strong>${t.name}</strong></a>
      ${t.isInference ? html` <span class="badge badge-delivering">inference</span>` : null}
      <p>${t.description}</p></li>`)}</ul>` : null}
  </section>`;
}

// Posts the type's sample payload as a real event of `organization`.
function SendSample({ type, org }) {
  const [organizationId, setOrganizationId] = useState(String(org || ""));
  const { busy, error, run } = useAction();
  const [sent, setSent] = useState(null);
  const send = run(async () => {
    setSent(await api("POST", "/events", {
      organizationId: Number(organizationId), eventName: type.name, payload: type.sample,
    }));
  });
  return html`<form class="inline card" onSubmit=${send}>
    <label>Organization <input type="number" min="1" required value=${organizationId}
      onInput=${(e) => setOrganizationId(e.target.value)} /></label>
    <button type="submit" disabled=${busy}>Send the sample as an event</button>
    <${ErrorMessage} error=${error} />
    ${sent ? html`<p class="notice ok" role="status">Accepted:
      <a href=${"#/events/" + sent.id}>${sent.id}</a>, ${sent.deliveries.length} deliveries.</p>` : null}
  </form>`;
}

export function EventTypePage({ name, org }) {
  const { data, error, loading } = useLoad(() => api("GET", "/event-types/" + encodeURIComponent(name)), [name]);
  if (loading) return html`<${Loading} what=${name} />`;
  if (error) return html`<${ErrorMessage} error=${error} />`;
  return html`<section>
    <h1>${data.name}</h1>
    <p>${data.description}</p>
    <p><a href=${"#/deliveries?eventName=" + encodeURIComponent(data.name)}>Deliveries of ${data.name} events</a>
      · <a href=${"#/configs?eventName=" + encodeURIComponent(data.name)}>configurations</a></p>
    <${SendSample} type=${data} org=${org} />
    <h2>Sample payload</h2><div class="card"><${JsonView} value=${data.sample} /></div>
    <h2>Sample headers</h2><div class="card"><${JsonView} value=${data.sampleHeaders} /></div>
    <h2>JSON Schema</h2><div class="card"><${JsonView} value=${data.schema} open=${false} /></div>
  </section>`;
}
