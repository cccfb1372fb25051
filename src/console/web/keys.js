// API keys (admin): create (the key is shown once), list, revoke.
import { api, session } from "./api.js";
import { html, useState } from "./lib.js";
import { CopyButton, ErrorMessage, Loading, time, useAction, useLoad } from "./ui.js";

export function KeyList() {
  const { data, error, loading, reload } = useLoad(() => api("GET", "/api-keys"), []);
  const [name, setName] = useState("");
  const [organizationId, setOrganizationId] = useState("");
  const [created, setCreated] = useState(null);
  const { busy, error: actionError, run } = useAction();
  const create = run(async () => {
    const body = { name };
    if (organizationId) body.organizationId = Number(organizationId);
    setCreated(await api("POST", "/api-keys", body));
    reload();
  });
  // Revoking cannot be undone, and revoking the key this console is signed in with leaves it
  // refused on every request: ask first, and sign out after that one.
  const revoke = (key) => run(async () => {
    const own = session.key()?.startsWith(key.prefix);
    const question = own
      ? `Revoke “${key.name}”? It is the key you are signed in with: the console will sign you out.`
      : `Revoke “${key.name}”? Whatever uses it is refused from now on.`;
    if (!confirm(question)) return;
    await api("DELETE", "/api-keys/" + key.id);
    if (own) {
      session.signOut();
      location.reload();
      return;
    }
    reload();
  });
  return html`<section>
    <h1>API keys</h1>
    <form class="inline card" onSubmit=${create}>
      <label>Name <input required value=${name} onInput=${(e) => setName(e.target.value)} /></label>
      <label>Organization <input type="number" min="1" placeholder="none: admin key" value=${organizationId}
        onInput=${(e) => setOrganizationId(e.target.value)} /></label>
      <button type="submit" disabled=${busy}>Create key</button>
    </form>
    <${ErrorMessage} error=${actionError} />
    ${created ? html`<div class="notice" role="status"><p>Key “${created.name}”, shown only now:</p>
      <p class="secret"><code>${created.key}</code> <${CopyButton} text=${created.key} label="Copy key" /></p></div>` : null}
    <${ErrorMessage} error=${error} />
    ${loading && !data ? html`<${Loading} what="API keys" />` : null}
    ${data ? html`<div class="table-wrap"><table>
      <thead><tr><th>Name</th><th>Prefix</th><th>Organization</th><th>Created</th><th></th></tr></thead>
      <tbody>${data.data.map((k) => html`<tr key=${k.id}>
        <td>${k.name}</td><td><code>${k.prefix}…</code></td><td>${k.organizationId ?? "all (admin)"}</td>
        <td>${time(k.createdAt)}</td>
        <td><button type="button" class="secondary danger" disabled=${busy} onClick=${revoke(k)} aria-label=${"Revoke " + k.name}>Revoke</button></td></tr>`)}
      </tbody></table></div>` : null}
  </section>`;
}
