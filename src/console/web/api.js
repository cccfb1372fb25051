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

// Calls the API; resolves with the parsed body (null for 204), rejects with ApiError.
export async function api(method, path, body) {
  const headers = { authorization: `Bearer ${session.key()}` };
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
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// A query string of the non-empty values of `params`.
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
