// api.js: the portal's side of the management API: the portal token
// (taken from the URL's fragment once, then kept in memory only), the
// app it is for, and JSON requests with RFC 9457 problem documents.

let token = null;
let app = null;
let expiresAt = 0;

function b64urlBytes(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// Read "#token=..." and remove it from the address bar and the history, so
// that the token is not left in the URL (nor bookmarked, nor sent as a
// referrer). Returns false when there is no usable token.
export function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get("token");
  history.replaceState(null, "", location.pathname + location.search);
  if (!t || !t.startsWith("hbpt1.")) return false;
  // hbpt1.<base64url(expiry(8) | nonce(16) | app)>.<signature>
  try {
    const body = b64urlBytes(t.slice(6, t.lastIndexOf(".")));
    let exp = 0;
    for (let i = 0; i < 8; i++) exp = exp * 256 + body[i];
    app = new TextDecoder().decode(body.slice(24));
    expiresAt = exp;
  } catch {
    return false;
  }
  if (!app) return false;
  token = t;
  return true;
}

export function appToken() {
  return app;
}

export function expiry() {
  return expiresAt;
}

// A failed request: status, the problem document (or null), and the
// messages per field it names.
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem || {};
    super(p.detail || p.title || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.problem = problem;
    this.fields = fieldErrors(p);
  }
}

// The fields a problem document names, as { field: [messages] }: its
// "errors" (or RFC 9457's example "invalid-params") members, whatever
// each calls the field and the message.
function fieldErrors(p) {
  const out = {};
  const list = p.errors || p["invalid-params"] || p.invalid_params || [];
  if (!Array.isArray(list)) return out;
  for (const e of list) {
    if (!e || typeof e !== "object") continue;
    let f = e.field ?? e.name ?? e.pointer ?? e.path ?? "";
    f = String(f).replace(/^#?\//, "").replace(/\//g, ".");
    const m = e.detail ?? e.message ?? e.reason ?? e.title ?? "";
    (out[f] ||= []).push(String(m));
  }
  return out;
}

// path relative to the app: "webhooks", "webhooks/ID/test", ...
export async function call(method, path, body, headers = {}) {
  const h = { Authorization: `Bearer ${token}`, ...headers };
  const init = { method, headers: h, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    h["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const url = `/v1/apps/${encodeURIComponent(app)}/${path}`;
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, { title: "The service cannot be reached." });
  }
  const type = res.headers.get("Content-Type") || "";
  let data = null;
  if (res.status !== 204 && /json/.test(type)) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401)
      throw new ApiError(401, {
        title: "Your session has ended: open this page again from your product.",
      });
    throw new ApiError(res.status, data);
  }
  const etag = res.headers.get("ETag");
  return { data, etag };
}
