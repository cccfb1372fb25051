// Small pieces shared by the pages.
import { api } from "./api.js";
import { html, useEffect, useRef, useState } from "./lib.js";

export function Loading({ what }) {
  return html`<p class="loading" role="status">Loading ${what}…</p>`;
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message}</p>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

// Runs the user's actions one at a time: `run(action)` makes an event handler that does
// nothing while an earlier action is still running (a double click sends one request), `busy`
// disables the buttons meanwhile, and `error` is the last action's failure.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const running = useRef(false);
  const run = (action) => async (e) => {
    e?.preventDefault();
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      running.current = false;
      setBusy(false);
    }
  };
  return { busy, error, run };
}

// An input whose value is committed elsewhere (the URL) on Enter or when it loses focus. Until
// then the text is the user's: a re-render in between (a load finishing) must not reset it to
// the committed value, as a plain controlled input would.
export function CommitInput({ value, onCommit, ...rest }) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  return html`<input ...${rest} value=${draft} onInput=${(e) => setDraft(e.target.value)}
    onChange=${(e) => onCommit(e.target.value)} />`;
}

// Runs `load` when `deps` change (and every `refreshMs` while `keepRefreshing(data)`). `loading`
// is true from each load's start to its end, while `data` still holds the previous answer: a
// list can show that what it holds is not yet the new filter's.
export function useLoad(load, deps, { refreshMs = 0, keepRefreshing = () => false } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => (s.loading ? s : { ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => (live = false);
  }, [...deps, tick]);
  // After every load, failed ones too: two failures in a row leave `data` null both times, and
  // a refresh keyed on `data` alone would never be scheduled again. Not during a load: a slow
  // answer would be dropped by the next refresh, again and again.
  useEffect(() => {
    if (!refreshMs || state.loading || !keepRefreshing(state.data)) return undefined;
    const timer = setTimeout(() => setTick((t) => t + 1), refreshMs);
    return () => clearTimeout(timer);
  }, [state]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

// The catalog's event type names, for filters and forms.
export function useEventTypes() {
  return useLoad(() => api("GET", "/event-types").then((r) => r.data.map((t) => t.name)), []);
}

export function time(text) {
  if (!text) return "—";
  const d = new Date(text);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

// Cursor paging: back to the first page, on to the next (links, so the URL holds the page).
export function Pager({ first, next }) {
  if (!first && !next) return null;
  return html`<div class="pager">
    ${first ? html`<a class="button secondary" href=${first}>First page</a>` : null}
    ${next ? html`<a class="button secondary" href=${next}>Next page</a>` : null}
  </div>`;
}

export function StatusBadge({ status }) {
  return html`<span class=${"badge badge-" + status}>${status}</span>`;
}

// JSON, pretty-printed, objects and arrays collapsible.
export function JsonView({ value, open = true }) {
  if (value === null || typeof value !== "object") {
    return html`<span class=${"json-" + (value === null ? "null" : typeof value)}>${JSON.stringify(value)}</span>`;
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [openL, closeL] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return html`<span>${openL}${closeL}</span>`;
  return html`<details class="json" open=${open}>
    <summary>${openL} <span class="muted">${entries.length} ${entries.length === 1 ? "item" : "items"}</span></summary>
    <ul>
      ${entries.map(([k, v]) => html`<li key=${k}>
        ${Array.isArray(value) ? null : html`<span class="json-key">${JSON.stringify(k)}</span>: `}
        <${JsonView} value=${v} open=${true} />
      </li>`)}
    </ul>
    <span>${closeL}</span>
  </details>`;
}

export function Headers({ headers }) {
  const entries = headers && typeof headers === "object" ? Object.entries(headers) : [];
  if (entries.length === 0) return html`<span class="muted">none</span>`;
  return html`<dl class="headers">
    ${entries.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd>${String(v)}</dd></div>`)}
  </dl>`;
}

export function CopyButton({ text, label = "Copy" }) {
  const [outcome, setOutcome] = useState(null);
  const copy = async () => setOutcome((await copyText(text)) ? "Copied" : "Copy failed: select the text");
  return html`<button type="button" class="secondary" onClick=${copy}>${outcome || label}</button>`;
}

// Browsers offer the Clipboard API only to secure pages (https://, localhost); a console opened
// over http:// from another host copies with execCommand, which they still allow there.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const field = document.createElement("textarea");
    field.value = text;
    field.readOnly = true;
    field.style.position = "fixed";
    field.style.opacity = "0";
    document.body.append(field);
    field.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    } finally {
      field.remove();
    }
  }
}

// The text of a field's error among an ApiError's errors, for forms.
export function fieldError(error, field) {
  if (!error) return null;
  if (error.field === field || (error.field || "").startsWith(field + "/")) return error.message;
  const other = (error.errors || []).find((e) => e.field === field);
  return other ? other.detail : null;
}
