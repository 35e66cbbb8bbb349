// form.js: the create and edit screen: name, URL, status, the events
// checklist (each ticked event with its own on/off switch), user and
// company properties (at most 10 together, enforced as they are typed),
// the secret (generated or one's own) and the signature style; the API's
// validation messages shown next to the fields they name.

import { call, ApiError } from "./api.js";
import { $, el, show, setError } from "./dom.js";

export const MAX_PROPS = 10;

let types = [];
let editing = null; // the webhook being edited, or null: creating
let done = null; // called with (saved webhook, secret shown once or null)
const props = { user: [], company: [] };
let extra = []; // event types not in the known list

export function setTypes(list) {
  types = list;
}

// The events checklist: every known type plus any extra, each a row with
// a "receive" box and an "on" switch.
function renderEvents(events) {
  const ul = $("f-events");
  ul.replaceChildren();
  const byType = new Map(events.map((e) => [e.type, e.enabled !== false]));
  const all = byType.has("*");
  $("f-all").checked = all;
  if (all) $("f-all").dataset.enabled = String(byType.get("*"));
  for (const t of events) if (t.type !== "*" && !types.includes(t.type) && !extra.includes(t.type)) extra.push(t.type);
  for (const t of [...types, ...extra]) {
    const id = `ev-${t.replace(/[^A-Za-z0-9_]/g, "_")}`;
    const li = el("li", { class: "event" });
    const pick = el("input", { type: "checkbox", id, class: "ev-pick" });
    pick.dataset.type = t;
    pick.checked = byType.has(t);
    const label = el("label", { for: id }, t);
    const sw = el("input", {
      type: "checkbox",
      role: "switch",
      id: `${id}-on`,
      class: "ev-on",
      "aria-label": `${t} switched on`,
    });
    sw.checked = byType.has(t) ? byType.get(t) : true;
    const swl = el("label", { for: `${id}-on`, class: "switch-label" }, "on");
    const sync = () => {
      sw.hidden = swl.hidden = !pick.checked;
      sw.disabled = $("f-all").checked;
      pick.disabled = $("f-all").checked;
      swl.textContent = sw.checked ? "on" : "off";
    };
    pick.addEventListener("change", sync);
    sw.addEventListener("change", sync);
    li.append(pick, label, sw, swl);
    ul.append(li);
    li.sync = sync;
    sync();
  }
}

function syncEvents() {
  for (const li of $("f-events").children) li.sync();
}

function collectEvents() {
  if ($("f-all").checked)
    return [{ type: "*", enabled: $("f-all").dataset.enabled !== "false" }];
  const out = [];
  for (const li of $("f-events").children) {
    const pick = li.querySelector(".ev-pick");
    if (pick.checked)
      out.push({ type: pick.dataset.type, enabled: li.querySelector(".ev-on").checked });
  }
  return out;
}

// Properties: chips per group; the count of both groups together, with
// what is being typed, never passes MAX_PROPS.
function propCount(extraTyped = 0) {
  return props.user.length + props.company.length + extraTyped;
}

function pending(input) {
  return input.value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function renderProps() {
  for (const g of ["user", "company"]) {
    const ul = $(`${g}-chips`);
    ul.replaceChildren();
    props[g].forEach((p, i) => {
      const li = el("li", { class: "chip" }, p);
      const x = el("button", { type: "button", "aria-label": `Remove ${p}` }, "×");
      x.addEventListener("click", () => {
        props[g].splice(i, 1);
        renderProps();
        $(`f-${g}-props`).focus();
      });
      li.append(x);
      ul.append(li);
    });
  }
  updatePropCount();
}

function updatePropCount() {
  const typed = pending($("f-user-props")).length + pending($("f-company-props")).length;
  const n = propCount(typed);
  const full = propCount() >= MAX_PROPS;
  $("props-count").textContent = `${Math.min(n, MAX_PROPS)} of ${MAX_PROPS} chosen.`;
  for (const g of ["user", "company"]) {
    const input = $(`f-${g}-props`);
    input.placeholder = full ? "limit reached" : "type a name, then Enter";
    input.setAttribute("aria-invalid", String(n > MAX_PROPS));
  }
  setError(
    $("e-props"),
    n > MAX_PROPS
      ? `At most ${MAX_PROPS} properties (user and company together): remove ${n - MAX_PROPS} to add more.`
      : full
        ? `That is the limit of ${MAX_PROPS} properties.`
        : "",
  );
}

function bindProps(g) {
  const input = $(`f-${g}-props`);
  const commit = () => {
    for (const p of pending(input)) {
      if (propCount() >= MAX_PROPS) break;
      if (!props[g].includes(p)) props[g].push(p);
    }
    input.value = "";
    renderProps();
  };
  input.addEventListener("input", () => {
    // refuse what would pass the limit as it is typed
    let names = pending(input);
    const room = MAX_PROPS - propCount() - pending($(`f-${g === "user" ? "company" : "user"}-props`)).length;
    if (names.length > room) {
      names = names.slice(0, Math.max(room, 0));
      input.value = names.join(", ");
    }
    if (input.value.endsWith(",")) commit();
    else updatePropCount();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commit();
    } else if (e.key === "Backspace" && !input.value && props[g].length) {
      props[g].pop();
      renderProps();
    } else if (propCount() >= MAX_PROPS && e.key.length === 1) {
      e.preventDefault();
      updatePropCount();
    }
  });
  // (what is left typed is taken on saving: committing it on blur would
  // move the buttons under the pointer)
}

function clearErrors() {
  for (const p of document.querySelectorAll("#hook-form .error")) setError(p, "");
  for (const i of document.querySelectorAll("#hook-form [aria-invalid=true]"))
    i.removeAttribute("aria-invalid");
  setError($("form-error"), "");
}

// Put each of the API's messages next to the field it names; what names
// no field of the form goes on top.
function showErrors(err) {
  const unplaced = [];
  for (const [field, msgs] of Object.entries(err.fields)) {
    // "events[1].type" goes with the events
    const key = field.split(/[.[]/)[0];
    const p = document.querySelector(`#hook-form .error[data-field="${CSS.escape(key)}"]`);
    if (p) {
      setError(p, (p.textContent ? p.textContent + " " : "") + msgs.join(" "));
      const input = document.querySelector(`#hook-form [aria-describedby~="${p.id}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    } else unplaced.push(`${field}: ${msgs.join(" ")}`);
  }
  const top = [err.message, ...unplaced].filter(Boolean);
  if (!Object.keys(err.fields).length || unplaced.length) setError($("form-error"), top.join(" "));
  const first = document.querySelector("#hook-form .error:not([hidden])");
  if (first) first.scrollIntoView({ block: "center" });
  const inv = document.querySelector("#hook-form [aria-invalid=true]");
  if (inv) inv.focus();
}

export function openForm(hook, onDone) {
  editing = hook;
  done = onDone;
  extra = [];
  clearErrors();
  $("form-title").textContent = hook ? `Edit “${hook.name}”` : "Create webhook";
  $("save").textContent = hook ? "Save" : "Create";
  $("f-name").value = hook?.name ?? "";
  $("f-url").value = hook?.url ?? "";
  $("f-enabled").checked = hook ? hook.enabled !== false : true;
  props.user = [...(hook?.user_properties ?? [])];
  props.company = [...(hook?.company_properties ?? [])];
  $("f-user-props").value = "";
  $("f-company-props").value = "";
  renderProps();
  renderEvents(hook?.events ?? []);
  show($("secret-choice"), !hook);
  show($("secret-edit"), !!hook);
  $("f-secret-gen").checked = true;
  $("f-secret").value = "";
  show($("secret-own"), false);
  $("f-signature").value = hook?.signature ?? "standard";
  show($("list-screen"), false);
  show($("form-screen"));
  $("f-name").focus();
}

function body() {
  for (const g of ["user", "company"]) {
    const input = $(`f-${g}-props`);
    for (const p of pending(input)) if (!props[g].includes(p)) props[g].push(p);
    input.value = "";
  }
  renderProps();
  const b = {
    name: $("f-name").value.trim(),
    url: $("f-url").value.trim(),
    enabled: $("f-enabled").checked,
    events: collectEvents(),
    user_properties: props.user,
    company_properties: props.company,
    signature: $("f-signature").value,
  };
  if (!editing && $("f-secret-own").checked) b.secret = $("f-secret").value;
  return b;
}

async function submit(e) {
  e.preventDefault();
  clearErrors();
  const b = body();
  if (propCount() > MAX_PROPS) return updatePropCount();
  $("save").disabled = true;
  try {
    let r;
    if (editing)
      r = await call("PATCH", `webhooks/${encodeURIComponent(editing.id)}`, b, {
        "If-Match": `"${editing.version}"`,
      });
    else r = await call("POST", "webhooks", b);
    const saved = { ...editing, ...b, ...(r.data || {}) };
    const secret = !editing && !b.secret ? r.data?.secret : null;
    delete saved.secret;
    close();
    done(saved, secret, !editing);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 409 || err.status === 412)
      err.message = "This webhook was changed meanwhile: cancel and open it again to see the change.";
    showErrors(err);
  } finally {
    $("save").disabled = false;
  }
}

export function close() {
  show($("form-screen"), false);
  show($("list-screen"));
}

export function bindForm(onCancel) {
  $("hook-form").addEventListener("submit", submit);
  $("cancel").addEventListener("click", () => {
    close();
    onCancel();
  });
  $("f-all").addEventListener("change", () => {
    $("f-all").dataset.enabled = "true";
    syncEvents();
  });
  const add = () => {
    const t = $("f-event-new").value.trim();
    setError($("e-events"), "");
    if (!t) return;
    if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$/.test(t)) {
      setError($("e-events"), "An event type is written entity.action (letters, digits, _).");
      return;
    }
    const current = collectEvents();
    if (!types.includes(t) && !extra.includes(t)) extra.push(t);
    if (!current.some((e) => e.type === t)) current.push({ type: t, enabled: true });
    renderEvents(current);
    $("f-event-new").value = "";
  };
  $("f-event-add").addEventListener("click", add);
  $("f-event-new").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    }
  });
  for (const r of document.querySelectorAll('input[name="secret-mode"]'))
    r.addEventListener("change", () => {
      show($("secret-own"), $("f-secret-own").checked);
      if ($("f-secret-own").checked) $("f-secret").focus();
    });
  bindProps("user");
  bindProps("company");
}
