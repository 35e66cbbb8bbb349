// dom.js: the few DOM helpers the portal's screens share (text only:
// nothing from the API is ever parsed as HTML).

export const $ = (id) => document.getElementById(id);

export function show(el, on = true) {
  el.hidden = !on;
}

export function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  if (text !== undefined) e.textContent = text;
  return e;
}

let noticeTimer = 0;

// A short message for everyone (role=status), gone after a while.
export function notice(text) {
  const n = $("notice");
  n.textContent = text;
  show(n);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => show(n, false), 6000);
}

// What cannot be recovered from on this page (no token, session over).
export function fatal(text) {
  const f = $("fatal");
  f.textContent = text;
  show(f);
  for (const id of ["list-screen", "form-screen"]) show($(id), false);
}

// An error paragraph: shown with its text, hidden when empty.
export function setError(p, text) {
  p.textContent = text || "";
  show(p, !!text);
}

export function when(unixSeconds) {
  if (!unixSeconds) return "never";
  const ms = unixSeconds > 1e12 ? unixSeconds : unixSeconds * 1000;
  return new Date(ms).toLocaleString();
}

export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
