// The v1 API: every call carries the session's X-API-Key; a 401 hands control back to sign-in.

const KEY_NAME = "wcm.apiKey";

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error ? body.error : {};
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.code = error.code || "error";
    this.details = error.details || {};
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY_NAME); },
  save(key) { sessionStorage.setItem(KEY_NAME, key); },
  clear() { sessionStorage.removeItem(KEY_NAME); },
};

let unauthorized = () => {};

/** Called with the ApiError whenever the session's key is rejected. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function url(path, query) {
  const target = new URL(`/api/v1${path}`, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, String(value));
  }
  return target;
}

/** One request; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function request(method, path, { body, query, key } = {}) {
  const headers = { "X-API-Key": key || session.key || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, query), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.ok) return data;
  const error = new ApiError(response.status, data);
  if (response.status === 401 && !key) unauthorized(error);
  throw error;
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body) => request("POST", path, { body });
export const put = (path, body) => request("PUT", path, { body });
export const del = (path) => request("DELETE", path);

/** Every item of a paged list endpoint (pages of 500), up to `max` items. */
export async function all(path, query = {}, max = 10000) {
  const items = [];
  for (let offset = 0; offset < max; offset += 500) {
    const page = await get(path, { ...query, limit: 500, offset });
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) break;
  }
  return items;
}
