// Configurations: list with filters and search, create and edit, and the actions on one.
import { api, query } from "./api.js";
import { html, useState } from "./lib.js";
import { CommitInput, CopyButton, Empty, ErrorMessage, Headers, Loading, Pager, fieldError, time, useAction, useEventTypes, useLoad } from "./ui.js";

function hashWith(path, params) {
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined));
  const search = new URLSearchParams(clean).toString();
  return "#" + path + (search ? "?" + search : "");
}

export function ConfigList({ params, org }) {
  const types = useEventTypes();
  const { data, error, loading } = useLoad(
    () => api("GET", "/external-events/" + query({
      organizationId: org, q: params.q, eventName: params.eventName, active: params.active, cursor: params.cursor, limit: 50,
    })),
    [org, params.q, params.eventName, params.active, params.cursor],
  );
  const set = (name, value) => {
    location.hash = hashWith("/configs", { ...params, [name]: value, cursor: "" });
  };
  const shown = data?.data || [];
  return html`<section>
    <div class="title-row">
      <h1>Configurations</h1>
      <a class="button" href=${hashWith("/configs/new", { org: params.org })}>New configuration</a>
    </div>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label>Search name or URL<${CommitInput} type="search" value=${params.q || ""} onCommit=${(q) => set("q", q)} /></label>
      <label>Event type
        <select value=${params.eventName || ""} onChange=${(e) => set("eventName", e.target.value)}>
          <option value="">any</option>
          ${(types.data || []).map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
        </select>
      </label>
      <label>State
        <select value=${params.active || ""} onChange=${(e) => set("active", e.target.value)}>
          <option value="">any</option><option value="true">active</option><option value="false">inactive</option>
        </select>
      </label>
    </form>
    <${ErrorMessage} error=${error} />
    ${loading ? html`<${Loading} what="configurations" />` : null}
    ${data && !loading && shown.length === 0 ? html`<${Empty}>No configuration matches${params.q ? ` "${params.q}"` : ""}.</${Empty}>` : null}
    ${shown.length > 0
      ? html`<div class="table-wrap" aria-busy=${loading ? "true" : null}><table>
        <thead><tr><th>Name</th><th>Event type</th><th>URL</th><th>Org</th><th>State</th></tr></thead>
        <tbody>${shown.map((c) => html`<tr key=${c.id}>
          <td><a href=${"#/configs/" + c.id}>${c.name}</a></td><td>${c.eventName}</td>
          <td class="url">${c.url}</td><td>${c.organizationId}</td>
          <td>${c.active ? "active" : html`<span class="muted">inactive</span>`}</td></tr>`)}</tbody>
      </table></div>`
      : null}
    <${Pager} first=${params.cursor ? hashWith("/configs", { ...params, cursor: "" }) : null}
      next=${data?.nextCursor ? hashWith("/configs", { ...params, cursor: data.nextCursor }) : null} />
  </section>`;
}

function Field({ name, label, error, children, hint }) {
  const message = fieldError(error, "/" + name);
  return html`<div class=${"field" + (message ? " invalid" : "")}>
    <label for=${"f-" + name}>${label}</label>
    ${children}
    ${hint ? html`<p class="hint">${hint}</p>` : null}
    ${message ? html`<p class="field-error" id=${"e-" + name} role="alert">${message}</p>` : null}
  </div>`;
}

// The form's state from a configuration (or blank), and the API body from the form's state.
function formState(config, org) {
  return {
    organizationId: String(config?.organizationId ?? org ?? ""),
    name: config?.name ?? "",
    url: config?.url ?? "",
    eventName: config?.eventName ?? "",
    apiKey: config?.attributes?.apiKey ?? "",
    organizationCode: config?.attributes?.organizationCode ?? "",
    sendOrganizationCode: config?.sendOrganizationCode ?? false,
    headers: JSON.stringify(config?.headers ?? {}, null, 2),
    timeoutMs: config?.timeoutMs ? String(config.timeoutMs) : "",
  };
}

function requestBody(form, config) {
  let headers;
  try {
    headers = JSON.parse(form.headers || "{}");
  } catch {
    const error = new Error("headers must be a JSON object, e.g. {\"x-team\": \"care\"}");
    error.field = "/headers";
    throw error;
  }
  const attributes = { ...(config?.attributes || {}) };
  for (const name of ["apiKey", "organizationCode"]) {
    if (form[name]) attributes[name] = form[name];
    else delete attributes[name];
  }
  const body = {
    name: form.name, url: form.url, eventName: form.eventName, attributes, headers,
    sendOrganizationCode: form.sendOrganizationCode,
    timeoutMs: form.timeoutMs ? Number(form.timeoutMs) : null,
  };
  if (!config && form.organizationId) body.organizationId = Number(form.organizationId);
  return body;
}

function ConfigForm({ config, org, who, onSaved }) {
  const types = useEventTypes();
  const [form, setForm] = useState(formState(config, org));
  const [error, setError] = useState(null);
  const [saving, setSaving] = useState(false);
  const bind = (name) => ({
    id: "f-" + name,
    value: form[name],
    onInput: (e) => setForm({ ...form, [name]: e.target.value }),
    "aria-describedby": fieldError(error, "/" + name) ? "e-" + name : null,
  });
  const submit = async (e) => {
    e.preventDefault();
    setSaving(true);
    try {
      const body = requestBody(form, config);
      const saved = config
        ? await api("PATCH", "/external-events/" + config.id, body)
        : await api("POST", "/external-events/", body);
      setError(null);
      onSaved(saved);
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  };
  const fieldNames = ["organizationId", "name", "url", "eventName", "attributes", "headers", "timeoutMs", "sendOrganizationCode"];
  const general = error && !fieldNames.some((f) => (error.field || "").startsWith("/" + f)) ? error : null;
  return html`<form class="card config-form" onSubmit=${submit} novalidate>
    ${!config && who.organizationId === null
      ? html`<${Field} name="organizationId" label="Organization" error=${error}>
          <input type="number" min="1" ...${bind("organizationId")} /></${Field}>`
      : null}
    <${Field} name="name" label="Name" error=${error}><input ...${bind("name")} /></${Field}>
    <${Field} name="url" label="URL" error=${error} hint="Where webhookd POSTs each event (https://).">
      <input type="url" ...${bind("url")} /></${Field}>
    <${Field} name="eventName" label="Event type" error=${error}>
      <select ...${bind("eventName")} onChange=${(e) => setForm({ ...form, eventName: e.target.value })}>
        <option value="">choose…</option>
        ${(types.data || []).map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
      </select></${Field}>
    <${Field} name="attributes/apiKey" label="API key sent as x-api-key" error=${error}><input ...${bind("apiKey")} id="f-attributes/apiKey" /></${Field}>
    <${Field} name="attributes/organizationCode" label="Organization code" error=${error}><input ...${bind("organizationCode")} id="f-attributes/organizationCode" /></${Field}>
    <${Field} name="headers" label="Extra headers (JSON object)" error=${error}><textarea rows="3" ...${bind("headers")}></textarea></${Field}>
    <${Field} name="timeoutMs" label="Request timeout (ms, empty: server default)" error=${error}>
      <input type="number" min="1" ...${bind("timeoutMs")} /></${Field}>
    <div class="field checkbox">
      <label><input type="checkbox" checked=${form.sendOrganizationCode}
        onChange=${(e) => setForm({ ...form, sendOrganizationCode: e.target.checked })} /> Add organizationCode to the payload</label>
    </div>
    <${ErrorMessage} error=${general} />
    <button type="submit" disabled=${saving}>${config ? "Save changes" : "Create configuration"}</button>
  </form>`;
}

function Secret({ secret, why }) {
  return html`<div class="notice" role="status">
    <p>${why} It is shown only now: copy it to the receiver.</p>
    <p class="secret"><code>${secret}</code> <${CopyButton} text=${secret} label="Copy secret" /></p>
  </div>`;
}

export function NewConfig({ org, who }) {
  const [created, setCreated] = useState(null);
  if (created) {
    return html`<section>
      <h1>Configuration created</h1>
      <${Secret} secret=${created.secret} why="Its signing secret:" />
      <a class="button" href=${"#/configs/" + created.id}>Open ${created.name}</a>
    </section>`;
  }
  return html`<section><h1>New configuration</h1>
    <${ConfigForm} org=${org} who=${who} onSaved=${setCreated} /></section>`;
}

function TestResult({ result }) {
  return html`<div class=${"notice " + (result.success ? "ok" : "bad")} role="status">
    <p><strong>${result.success ? "The receiver accepted the test event" : "The test event failed"}</strong>:
      status ${result.statusCode ?? "none"} in ${result.durationMs} ms${result.error ? " — " + result.error : ""}</p>
    <h3>Response headers</h3><${Headers} headers=${result.responseHeaders} />
    <h3>Response body</h3><pre>${result.responseBody || "(empty)"}</pre>
  </div>`;
}

function Actions({ config, onChanged }) {
  const { busy, error, run } = useAction();
  const [secret, setSecret] = useState(null);
  const [test, setTest] = useState(null);
  const [recovered, setRecovered] = useState(null);
  const [since, setSince] = useState("");
  const toggle = run(async () => onChanged(await api("PATCH", "/external-events/" + config.id, { active: !config.active })));
  const rotate = run(async () => {
    const rotated = await api("POST", `/external-events/${config.id}/secret/rotate`, {});
    setSecret(rotated.secret);
    onChanged(rotated);
  });
  const sendTest = run(async () => setTest(await api("POST", `/external-events/${config.id}/test`, {})));
  const recover = run(async () => {
    if (!since) throw new Error("choose the time from which to re-send failed deliveries");
    const answer = await api("POST", `/external-events/${config.id}/recover`, { since: new Date(since).toISOString() });
    setRecovered(answer.requeued);
  });
  return html`<div class="actions">
    <div class="buttons">
      <button type="button" disabled=${busy} onClick=${toggle}>${config.active ? "Deactivate" : "Activate"}</button>
      <button type="button" disabled=${busy} onClick=${rotate}>Rotate secret</button>
      <button type="button" disabled=${busy} onClick=${sendTest}>Send test event</button>
    </div>
    <form class="inline" onSubmit=${recover}>
      <label>Re-send failed deliveries since <input type="datetime-local" value=${since} onInput=${(e) => setSince(e.target.value)} /></label>
      <button type="submit" class="secondary" disabled=${busy}>Recover</button>
    </form>
    <${ErrorMessage} error=${error} />
    ${secret ? html`<${Secret} secret=${secret} why="New secret; the previous one keeps signing for 24 hours." />` : null}
    ${recovered !== null ? html`<p class="notice ok" role="status">${recovered} failed deliveries queued again.</p>` : null}
    ${test ? html`<${TestResult} result=${test} />` : null}
  </div>`;
}

export function ConfigPage({ id, who }) {
  const [editing, setEditing] = useState(false);
  const [override, setOverride] = useState(null);
  const { data, error, loading } = useLoad(() => api("GET", "/external-events/" + id), [id]);
  const config = override && override.id === Number(id) ? override : data;
  if (loading) return html`<${Loading} what="the configuration" />`;
  if (error) return html`<${ErrorMessage} error=${error} />`;
  return html`<section>
    <div class="title-row">
      <h1>${config.name}</h1>
      <span class=${"badge " + (config.active ? "badge-succeeded" : "badge-failed")}>${config.active ? "active" : "inactive"}</span>
    </div>
    ${config.disabledReason ? html`<p class="error">Deactivated by webhookd: ${config.disabledReason}</p>` : null}
    <dl class="facts">
      <div><dt>Id</dt><dd>${config.id}</dd></div>
      <div><dt>Organization</dt><dd>${config.organizationId}</dd></div>
      <div><dt>Event type</dt><dd><a href=${"#/event-types/" + config.eventName}>${config.eventName}</a></dd></div>
      <div><dt>URL</dt><dd class="url">${config.url}</dd></div>
      <div><dt>Updated</dt><dd>${time(config.updatedAt)}</dd></div>
      <div><dt>Headers</dt><dd><${Headers} headers=${config.headers} /></dd></div>
    </dl>
    <p><a href=${"#/deliveries?externalEventId=" + config.id}>Deliveries to this configuration</a>
      · <a href=${"#/deliveries?externalEventId=" + config.id + "&status=failed"}>failed ones</a></p>
    <${Actions} config=${config} onChanged=${setOverride} />
    <h2>Edit</h2>
    ${editing
      ? html`<${ConfigForm} config=${config} who=${who} onSaved=${(c) => { setOverride(c); setEditing(false); }} />`
      : html`<button type="button" class="secondary" onClick=${() => setEditing(true)}>Edit configuration</button>`}
  </section>`;
}
