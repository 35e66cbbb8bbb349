// portal.js: the portal's entry: takes the token, shows the list of the
// app's webhooks (name, endpoint host, status switch, events, health
// badge) and wires its buttons to the form and the dialogs.

import { takeToken, appToken, expiry, call, ApiError } from "./api.js";
import { $, el, show, notice, fatal, hostOf, when } from "./dom.js";
import { bindForm, openForm, setTypes } from "./form.js";
import { bindDialogs, openTest, showSecret, confirm, badge, fetchHealth, openHealth } from "./dialogs.js";

const PAGE = 50;
let hooks = [];
let next = null;
let types = [];

function path(hook, rest = "") {
  return `webhooks/${encodeURIComponent(hook.id)}${rest}`;
}

function listOf(data) {
  if (Array.isArray(data)) return { items: data, next: null };
  const items = data?.webhooks ?? data?.items ?? data?.data ?? [];
  const n = data?.next_after ?? data?.next ?? data?.after ?? null;
  return { items, next: items.length ? n : null };
}

async function load(more = false) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (more && next) q.set("after", next);
  const { data } = await call("GET", `webhooks?${q}`);
  const page = listOf(data);
  hooks = more ? [...hooks, ...page.items] : page.items;
  next = page.next;
  render();
}

function eventChips(hook) {
  const ul = el("ul", { class: "hook-events chips" });
  for (const e of hook.events || []) {
    const off = e.enabled === false;
    const li = el("li", { class: off ? "chip off" : "chip" }, e.type === "*" ? "all events" : e.type);
    if (off) li.append(el("span", { class: "sr" }, " (off)"));
    ul.append(li);
  }
  return ul;
}

async function setBadge(hook, btn) {
  const b = badge(await fetchHealth(hook));
  btn.textContent = b.text;
  btn.className = `badge ${b.level}`;
  btn.setAttribute("aria-label", `Health of ${hook.name}: ${b.text}. Open the health panel`);
}

function item(hook) {
  const li = $("hook-item").content.firstElementChild.cloneNode(true);
  li.dataset.id = hook.id;
  li.querySelector(".hook-name").textContent = hook.name;
  li.querySelector(".hook-host").textContent = hostOf(hook.url);
  li.querySelector(".hook-host").title = hook.url;
  li.querySelector(".hook-events").replaceWith(eventChips(hook));
  const sw = li.querySelector(".hook-enabled");
  const swl = li.querySelector(".hook-enabled-label");
  sw.id = `on-${hook.id}`;
  swl.htmlFor = sw.id;
  sw.checked = hook.enabled !== false;
  swl.textContent = sw.checked ? "Enabled" : "Disabled";
  sw.addEventListener("change", () => toggle(hook, sw, swl));
  const acts = {
    edit: () => openForm(hook, saved),
    test: () => openTest(hook, types),
    rotate: () => rotate(hook),
    delete: () => remove(hook),
    health: () => openHealth(hook),
  };
  for (const b of li.querySelectorAll("[data-act]")) {
    const act = b.dataset.act;
    if (act !== "health") b.setAttribute("aria-label", `${b.textContent} ${hook.name}`);
    b.addEventListener("click", () => guard(acts[act]()));
  }
  setBadge(hook, li.querySelector(".badge")).catch(failed);
  return li;
}

function render() {
  const ul = $("hooks");
  ul.replaceChildren(...hooks.map(item));
  show($("empty"), hooks.length === 0);
  show($("more"), !!next);
}

async function toggle(hook, sw, swl) {
  sw.disabled = true;
  try {
    const { data } = await call("PATCH", path(hook), { enabled: sw.checked }, { "If-Match": `"${hook.version}"` });
    Object.assign(hook, data || { enabled: sw.checked });
    swl.textContent = sw.checked ? "Enabled" : "Disabled";
    notice(`${hook.name} is ${sw.checked ? "enabled" : "disabled"}.`);
  } catch (e) {
    sw.checked = !sw.checked;
    failed(e);
  } finally {
    sw.disabled = false;
  }
}

function rotate(hook) {
  confirm(
    `Rotate the secret of “${hook.name}”?`,
    "A new secret signs from now on; the old one keeps signing beside it for a while, so that you can update your endpoint.",
    "Rotate secret",
    async () => {
      const { data } = await call("POST", path(hook, "/rotate-secret"));
      if (data?.version !== undefined) hook.version = data.version;
      $("confirm-dialog").close();
      showSecret(data?.secret ?? "", "The new secret: copy it now, it is not shown again. The old one keeps signing for a while.");
    },
  );
}

function remove(hook) {
  confirm(
    `Delete “${hook.name}”?`,
    `Events stop going to ${hostOf(hook.url)}. This cannot be undone.`,
    "Delete",
    async () => {
      await call("DELETE", path(hook), undefined, { "If-Match": `"${hook.version}"` });
      hooks = hooks.filter((h) => h.id !== hook.id);
      render();
      notice(`${hook.name} was deleted.`);
      $("create").focus();
    },
  );
}

function saved(hook, secret, created) {
  const i = hooks.findIndex((h) => h.id === hook.id);
  if (i >= 0) hooks[i] = hook;
  else hooks.push(hook);
  render();
  notice(`${hook.name} was ${created ? "created" : "saved"}.`);
  if (secret) showSecret(secret, "Your webhook's signing secret: copy it now, it is not shown again.");
  const li = document.querySelector(`#hooks li[data-id="${CSS.escape(hook.id)}"] button`);
  if (li && !secret) li.focus();
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) fatal(e.message);
  else if (e instanceof ApiError) notice(e.message);
  else throw e;
}

function guard(p) {
  if (p && p.catch) p.catch(failed);
}

async function loadTypes() {
  try {
    const r = await fetch("types.json", { cache: "no-store" });
    types = r.ok ? await r.json() : [];
  } catch {
    types = [];
  }
  setTypes(types);
}

function showSession() {
  $("title").textContent = `Webhooks of ${appToken()}`;
  $("session").textContent = `Session until ${when(expiry())}`;
}

async function main() {
  if (!takeToken()) {
    fatal("This page opens from your product, with a link that lets you in for a while. Open it from there again.");
    return;
  }
  showSession();
  // the embedding product may hand over a new token (#token=...) later
  window.addEventListener("hashchange", () => {
    if (!/token=/.test(location.hash) || !takeToken()) return;
    showSession();
    show($("fatal"), false);
    show($("form-screen"), false);
    show($("list-screen"));
    load().catch(failed);
  });
  bindForm(() => $("create").focus());
  bindDialogs();
  $("create").addEventListener("click", () => openForm(null, saved));
  $("more").addEventListener("click", () => guard(load(true)));
  await loadTypes();
  show($("list-screen"));
  try {
    await load();
  } catch (e) {
    failed(e);
  }
  // the session's end, said before a request fails
  setInterval(() => {
    if (Date.now() >= expiry() * 1000) fatal("Your session has ended: open this page again from your product.");
  }, 10000);
}

main();
