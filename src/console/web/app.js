// The console's shell: sign-in, navigation, the organization switch, and the page for the URL.
// Pages and their filters live in the URL's fragment (#/configs?active=true), so links can be
// shared; the API key never does.
import { api, keyRefused, session } from "./api.js";
import { html, render, useEffect, useState } from "./lib.js";
import { CommitInput, ErrorMessage } from "./ui.js";
import { Overview } from "./overview.js";
import { ConfigList, ConfigPage, NewConfig } from "./configs.js";
import { DeliveryList, EventPage } from "./deliveries.js";
import { EventTypeList, EventTypePage } from "./event-types.js";
import { KeyList } from "./keys.js";

export function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/overview";
  const [path, search = ""] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: Object.fromEntries(new URLSearchParams(search)) };
}

// Who the key is: its record among the keys it may list (an organization key lists its own).
async function identify(key) {
  const keys = await api("GET", "/api-keys");
  const mine = keys.data.find((k) => key.startsWith(k.prefix));
  return mine ? { organizationId: mine.organizationId, name: mine.name } : { organizationId: null, name: "" };
}

function SignIn({ onSignedIn, refused }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(refused);
  const submit = async (e) => {
    e.preventDefault();
    session.signIn(key.trim());
    try {
      onSignedIn(await identify(key.trim()));
    } catch (err) {
      session.signOut();
      setError(err);
    }
  };
  return html`<main class="signin">
    <h1>webhookd</h1>
    <form onSubmit=${submit} class="card">
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" value=${key} onInput=${(e) => setKey(e.target.value)}
        placeholder="whk_…" required />
      <p class="hint">An admin key (printed by <code>make run</code>, or <code>webhookd keys create</code>) sees every
        organization; an organization key sees only its own. The key stays in this tab.</p>
      <${ErrorMessage} error=${error} />
      <button type="submit">Sign in</button>
    </form>
  </main>`;
}

const sections = [
  ["overview", "Overview"],
  ["configs", "Configurations"],
  ["deliveries", "Deliveries"],
  ["event-types", "Event types"],
  ["keys", "API keys"],
];

function OrganizationSwitch({ route, who }) {
  if (who.organizationId !== null) {
    return html`<span class="org">Organization ${who.organizationId}</span>`;
  }
  const change = (org) => {
    const params = { ...route.params, org };
    if (!org) delete params.org;
    delete params.cursor;
    location.hash = "#/" + route.parts.join("/") + "?" + new URLSearchParams(params);
  };
  return html`<label class="org">Organization
    <${CommitInput} type="number" min="1" placeholder="all" value=${route.params.org || ""} onCommit=${change} aria-label="Organization (empty: all)" />
  </label>`;
}

function Page({ route, who }) {
  const [section, id] = route.parts;
  const props = { params: route.params, who, org: who.organizationId ?? route.params.org ?? "" };
  if (section === "configs" && id === "new") return html`<${NewConfig} ...${props} />`;
  if (section === "configs" && id) return html`<${ConfigPage} id=${id} ...${props} />`;
  if (section === "configs") return html`<${ConfigList} ...${props} />`;
  if (section === "deliveries") return html`<${DeliveryList} ...${props} />`;
  if (section === "events" && id) return html`<${EventPage} id=${id} ...${props} />`;
  if (section === "event-types" && id) return html`<${EventTypePage} name=${id} ...${props} />`;
  if (section === "event-types") return html`<${EventTypeList} ...${props} />`;
  if (section === "keys") return html`<${KeyList} ...${props} />`;
  return html`<${Overview} ...${props} />`;
}

function App() {
  const [route, setRoute] = useState(parseRoute());
  const [who, setWho] = useState(null);
  const [checking, setChecking] = useState(Boolean(session.key()));
  const [checkError, setCheckError] = useState(null);
  const [refused, setRefused] = useState(null);
  // A key revoked elsewhere while this console uses it: back to the sign-in form, saying why.
  // Only while signed in: the sign-in form reports a refused key itself.
  useEffect(() => {
    if (!who) return undefined;
    const onRefused = (e) => {
      session.signOut();
      setRefused(e.detail);
      setWho(null);
    };
    addEventListener(keyRefused, onRefused);
    return () => removeEventListener(keyRefused, onRefused);
  }, [who]);
  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  // Only a refused key (401) is thrown away: a server restarting or unreachable keeps it.
  const check = () => {
    setChecking(true);
    setCheckError(null);
    identify(session.key())
      .then(setWho, (err) => (err.status === 401 ? session.signOut() : setCheckError(err)))
      .finally(() => setChecking(false));
  };
  useEffect(() => {
    if (session.key()) check();
  }, []);
  if (checking) return html`<p class="loading">Signing in…</p>`;
  if (checkError) {
    const other = () => {
      session.signOut();
      setCheckError(null);
    };
    return html`<main class="signin"><h1>webhookd</h1><div class="card">
      <${ErrorMessage} error=${checkError} />
      <button type="button" onClick=${check}>Try again</button>
      <button type="button" class="secondary" onClick=${other}>Sign in with another key</button>
    </div></main>`;
  }
  if (!who) return html`<${SignIn} onSignedIn=${setWho} refused=${refused} />`;
  const signOut = () => {
    session.signOut();
    setWho(null);
  };
  const org = route.params.org ? "?org=" + encodeURIComponent(route.params.org) : "";
  return html`<div class="shell">
    <header>
      <a class="brand" href=${"#/overview" + org}>webhookd</a>
      <nav aria-label="Sections">
        ${sections
          .filter(([s]) => s !== "keys" || who.organizationId === null)
          .map(([s, label]) => html`<a key=${s} href=${"#/" + s + org}
            aria-current=${route.parts[0] === s || (!route.parts[0] && s === "overview") ? "page" : null}>${label}</a>`)}
      </nav>
      <div class="who">
        <${OrganizationSwitch} route=${route} who=${who} />
        <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
      </div>
    </header>
    <main><${Page} route=${route} who=${who} /></main>
  </div>`;
}

const root = document.getElementById("app");
root.textContent = ""; // the static "Loading" line; Preact would keep it beside the app
render(html`<${App} />`, root);
