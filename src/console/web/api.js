// The console's only way to the server: the public HTTP API, with the key signed in with.
// The key lives in this tab's sessionStorage and travels only in the Authorization header.
const keyName = "webhookd.apiKey";

export const session = {
  key: () => sessionStorage.getItem(keyName),
  signIn: (key) => sessionStorage.setItem(keyName, key),
  signOut: () => sessionStorage.removeItem(keyName),
};

// An API error: the problem+json body's detail and field when there is one.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `the server answered ${status}`);
    this.status = status;
    this.field = problem?.field || null;
    this.errors = problem?.errors || [];
  }
}

// Dispatched on window when the API refuses the stored key (401): app.js then signs out.
export const keyRefused = "webhookd:key-refused";

// Calls the API; resolves with the parsed body (null for 204), rejects with ApiError.
export async function api(method, path, body) {
  const key = session.key();
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: "the server cannot be reached" });
  }
  const text = await response.text();
  const parsed = parseJson(text);
  if (!response.ok) {
    const error = new ApiError(response.status, parsed.ok ? parsed.value : null);
    if (response.status === 401 && key === session.key()) dispatchEvent(new CustomEvent(keyRefused, { detail: error }));
    throw error;
  }
  if (!parsed.ok) throw new ApiError(response.status, { detail: `the server answered ${response.status} with a body that is not JSON` });
  return parsed.value;
}

// A proxy in front of webhookd may answer for it (a 502 page, a login form): not JSON.
function parseJson(text) {
  if (!text) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

// A query string of the non-empty values of `params`.
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
