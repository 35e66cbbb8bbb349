// dialogs.js: the portal's dialogs: Send Test (type picker; status, time
// and start of the response), a secret shown once, confirmations (rotate,
// delete) and the health panel with its redrive button.

import { call, ApiError } from "./api.js";
import { $, el, show, setError, when } from "./dom.js";

const pick = (o, ...names) => {
  for (const n of names) if (o && o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
};

// Send Test ----------------------------------------------------------

let testHook = null;

export function openTest(hook, types) {
  testHook = hook;
  $("test-hook").textContent = hook.name;
  const own = (hook.events || []).filter((e) => e.type !== "*").map((e) => e.type);
  const list = own.length ? own : types;
  const sel = $("test-type");
  sel.replaceChildren(...list.map((t) => el("option", { value: t }, t)));
  show($("test-result"), false);
  setError($("test-error"), "");
  $("test-dialog").showModal();
  sel.focus();
}

async function sendTest() {
  const btn = $("test-send");
  btn.disabled = true;
  btn.textContent = "Sending…";
  setError($("test-error"), "");
  show($("test-result"), false);
  try {
    const { data } = await call("POST", `webhooks/${encodeURIComponent(testHook.id)}/test`, {
      type: $("test-type").value,
    });
    const status = pick(data, "status", "http_status", "status_code");
    const ms = pick(data, "time_ms", "duration_ms", "elapsed_ms", "ms");
    const err = pick(data, "error");
    $("test-status").textContent =
      status ? `${status}${status >= 200 && status < 300 ? " (delivered)" : ""}` : err ? `no answer: ${err}` : "no answer";
    $("test-status").className = status >= 200 && status < 300 ? "ok" : "bad";
    $("test-time").textContent = ms === undefined ? "—" : ms < 1 ? "under 1 ms" : `${Math.round(ms)} ms`;
    $("test-body").textContent = pick(data, "response_start", "response", "body", "response_body") ?? "";
    show($("test-result"));
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    setError($("test-error"), e.message);
  } finally {
    btn.disabled = false;
    btn.textContent = "Send test";
  }
}

// A secret, shown once -------------------------------------------------

export function showSecret(secret, why) {
  $("secret-value").value = secret;
  $("secret-why").textContent = why;
  $("secret-copy").textContent = "Copy";
  $("secret-dialog").showModal();
  $("secret-value").select();
}

// Confirmations ------------------------------------------------------------

let confirmAction = null;

export function confirm(title, text, yes, action) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  setError($("confirm-error"), "");
  confirmAction = action;
  $("confirm-dialog").showModal();
  $("confirm-no").focus(); // the safe choice first
}

async function confirmed() {
  $("confirm-yes").disabled = true;
  try {
    await confirmAction();
    $("confirm-dialog").close();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    setError($("confirm-error"), e.message);
  } finally {
    $("confirm-yes").disabled = false;
  }
}

// Health ----------------------------------------------------------------

let healthHook = null;

// A badge for the list: { text, level } from a health document.
export function badge(h) {
  if (!h) return { text: "health unknown", level: "none" };
  const circuit = String(pick(h, "circuit", "circuit_state") ?? "closed");
  if (pick(h, "disabled_by_410", "disabled")) return { text: "disabled (410)", level: "bad" };
  if (circuit !== "closed") return { text: `circuit ${circuit}`, level: "bad" };
  const failed = pick(h, "failed") ?? 0;
  const delivered = pick(h, "delivered") ?? 0;
  const retry = pick(h, "in_retry", "retrying") ?? 0;
  const dead = pick(h, "dead_lettered", "dead_letters") ?? 0;
  const lastOk = stamp(pick(h, "last_success"));
  const lastBad = stamp(pick(h, "last_failure"));
  if (lastBad && lastBad > lastOk) return { text: "failing", level: "bad" };
  if (retry || dead) {
    const parts = [retry ? `${retry} in retry` : "", dead ? `${dead} dead-lettered` : ""];
    return { text: parts.filter(Boolean).join(", "), level: "warn" };
  }
  if (!delivered && !failed) return { text: "no deliveries yet", level: "none" };
  return { text: "healthy", level: "ok" };
}

function stamp(v) {
  if (!v) return 0;
  if (typeof v === "number") return v;
  return pick(v, "at", "time", "ts", "at_ms") ?? 0;
}

function fact(dl, name, value) {
  dl.append(el("dt", {}, name), el("dd", {}, String(value)));
}

function renderHealth(h) {
  const dl = $("health-facts");
  dl.replaceChildren();
  const b = badge(h);
  fact(dl, "State", b.text);
  fact(dl, "Delivered", pick(h, "delivered") ?? 0);
  fact(dl, "Failed", pick(h, "failed") ?? 0);
  fact(dl, "In retry", pick(h, "in_retry", "retrying") ?? 0);
  fact(dl, "Dead-lettered", pick(h, "dead_lettered", "dead_letters") ?? 0);
  fact(dl, "Circuit", pick(h, "circuit", "circuit_state") ?? "closed");
  fact(dl, "Disabled by 410", pick(h, "disabled_by_410") ? "yes" : "no");
  fact(dl, "Last success", when(stamp(pick(h, "last_success"))));
  const lf = pick(h, "last_failure");
  if (lf) {
    const st = pick(lf, "status");
    const er = pick(lf, "error");
    fact(dl, "Last failure", `${when(stamp(lf))}${st ? ` — HTTP ${st}` : ""}${er ? ` — ${er}` : ""}`);
  } else fact(dl, "Last failure", "never");
  const rep = pick(h, "replicas");
  if (rep && typeof rep === "object")
    fact(dl, "Replicas reporting", `${pick(rep, "reporting") ?? "?"}${h.complete === false ? " (not all yet)" : ""}`);
  const rs = lf ? pick(lf, "response_start", "response", "body") : "";
  $("health-failure-body").textContent = rs || "";
  show($("health-failure"), !!rs);
}

export async function fetchHealth(hook) {
  try {
    const { data } = await call("GET", `webhooks/${encodeURIComponent(hook.id)}/health`);
    return data;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 401) throw e;
    return null;
  }
}

async function refreshHealth() {
  renderHealth(await fetchHealth(healthHook));
}

export async function openHealth(hook) {
  healthHook = hook;
  $("health-hook").textContent = hook.name;
  show($("redrive-result"), false);
  setError($("redrive-error"), "");
  renderHealth(null);
  $("health-dialog").showModal();
  await refreshHealth();
}

// a datetime-local input as ISO-8601 (the redrive's TIME), or undefined
function iso(input) {
  return input.value ? new Date(input.value).toISOString() : undefined;
}

async function redrive() {
  const btn = $("redrive");
  btn.disabled = true;
  setError($("redrive-error"), "");
  show($("redrive-result"), false);
  try {
    const b = {};
    const from = iso($("redrive-from"));
    const to = iso($("redrive-to"));
    if (from !== undefined) b.from = from;
    if (to !== undefined) b.to = to;
    const { data } = await call("POST", `webhooks/${encodeURIComponent(healthHook.id)}/redrive`, b);
    const n = pick(data, "window");
    $("redrive-result").textContent =
      data?.state === "done" || n === 0
        ? "No dead letter of this webhook in that window."
        : `Redrive started: ${n ?? "the"} dead ${n === 1 ? "letter" : "letters"} of the window being sent again.`;
    show($("redrive-result"));
    await refreshHealth();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    setError($("redrive-error"), e.message);
  } finally {
    btn.disabled = false;
  }
}

export function bindDialogs() {
  $("test-send").addEventListener("click", sendTest);
  $("confirm-yes").addEventListener("click", confirmed);
  $("secret-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("secret-value").value);
      $("secret-copy").textContent = "Copied";
    } catch {
      $("secret-value").select();
      $("secret-copy").textContent = "Press Ctrl+C";
    }
  });
  $("health-refresh").addEventListener("click", refreshHealth);
  $("redrive").addEventListener("click", redrive);
  $("secret-dialog").addEventListener("close", () => {
    $("secret-value").value = ""; // not left in the page
  });
}
