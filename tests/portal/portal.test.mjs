// portal.test.mjs: the portal in a real browser (Debian's chromium,
// driven by playwright-core) against a real hookbridge (API + worker) on
// the real broker, delivering to the test receiver (hb-receiver, which
// records what it got and checks signatures): mint a token, create a
// webhook through the form, events arrive, an event switched off stops
// arriving, Send Test shows the receiver's answer, a rotated secret
// signs, delete; a token of app A reaches nothing of app B. Screenshots of
// the main screens go to HB_PORTAL_SCREENSHOTS. Run by tests/portal/run.sh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const build = process.env.HB_BUILD_DIR || path.join(root, "build");
const brokers = process.env.HOOKBRIDGE_TEST_BROKERS;
const shots = process.env.HB_PORTAL_SCREENSHOTS || path.join(build, "portal-screenshots");
const chromiumPath = process.env.HB_CHROMIUM || "/usr/bin/chromium";
const { chromium } = await import(
  pathToFileURL(path.join(process.env.HB_PORTAL_NODE_MODULES, "playwright-core/index.mjs"))
);

const A = "NX-portal-a";
const B = "NX-portal-b";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hb-portal-"));
const uniq = `${process.pid}-${Date.now()}`;
const topic = `hb-portal-${uniq}`;
const opToken = crypto.randomBytes(24).toString("hex");
const apiKey = crypto.randomBytes(32).toString("base64");
const children = [];
let apiPort, adminPort, rxPort, browser, page, hookId, hookB;
let recordPath, logPath;

// --- helpers --------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms = 30000, every = 200) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await sleep(every);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, env, out) {
  const fd = fs.openSync(out, "a");
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", fd, fd] });
  children.push(p);
  return p;
}

async function api(method, p, { token = opToken, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(`http://127.0.0.1:${apiPort}${p}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

async function mint(app, token = opToken) {
  const r = await api("POST", `/v1/apps/${app}/portal-token`, { token });
  assert.equal(r.status, 201, `mint for ${app}: ${r.text}`);
  return r.json;
}

// A raw Segment "track" event of app \p app.
function raw(event, app, id, props) {
  return JSON.stringify({
    type: "track",
    event,
    messageId: id,
    timestamp: Date.now(),
    userId: "7",
    context: {
      app_token: app,
      page: { url: "https://app.example.com/dashboard?tab=1" },
      traits: { name: "Ada Lovelace", email: "ada@example.com", plan: "pro" },
      groupId: "42",
      group: { name: "Analytical Engines", industry: "SaaS" },
    },
    properties: props,
  });
}

function produce(events) {
  const lines = events.map((e, i) => `k${i % 3}\t${e}`).join("\n") + "\n";
  const r = spawnSync("kcat", ["-P", "-b", brokers, "-t", topic, "-K", "\t"], { input: lines });
  assert.equal(r.status, 0, `kcat: ${r.stderr}`);
}

// batch \p tag: \p n Flow Completed and \p n NPS Score Submitted of each app
function batch(tag, n) {
  const ev = [];
  for (let i = 0; i < n; i++)
    for (const app of [A, B]) {
      ev.push(raw("Flow Completed", app, `${tag}-fc-${app}-${i}`, { flow_id: i }));
      ev.push(raw("NPS Score Submitted", app, `${tag}-nps-${app}-${i}`, { survey_question: "?", score: 9 }));
    }
  produce(ev);
}

function received() {
  if (!fs.existsSync(recordPath)) return [];
  return fs
    .readFileSync(recordPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l);
      try {
        r.payload = JSON.parse(r.body);
      } catch {
        r.payload = null;
      }
      return r;
    });
}

// requests /a got since record line \p from
function since(from) {
  return received()
    .slice(from)
    .filter((r) => r.path === "/a");
}

async function setSecret(secret) {
  const r = await fetch(`http://127.0.0.1:${rxPort}/_control/secret?path=/a`, { method: "PUT", body: secret });
  assert.equal(r.status, 200, "receiver took the secret");
}

async function shot(name, fullPage = true) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
}

async function openPortal(url) {
  await page.goto("about:blank"); // a new page, not a hash change
  await page.goto(`http://127.0.0.1:${apiPort}${url}`);
  await page.waitForSelector("#list-screen:not([hidden]), #fatal:not([hidden])");
}

// --- set-up ---------------------------------------------------------------

before(async () => {
  assert.ok(brokers, "HOOKBRIDGE_TEST_BROKERS is needed (a real broker)");
  fs.mkdirSync(shots, { recursive: true });
  [apiPort, adminPort] = [await freePort(), await freePort()];
  recordPath = path.join(tmp, "received.jsonl");
  logPath = path.join(tmp, "hookbridge.log");
  // the topic, before the worker subscribes: one event of an app nobody has
  produce([raw("Flow Completed", "NX-nobody", "seed", { flow_id: 0 })]);

  const portFile = path.join(tmp, "rx.port");
  start(path.join(build, "hb-receiver"), ["--port-file", portFile, "--record", recordPath, "--quiet"], {}, path.join(tmp, "rx.log"));
  rxPort = Number(await waitFor("the receiver's port", () => fs.existsSync(portFile) && fs.readFileSync(portFile, "utf8").trim()));

  const cfg = `
kafka = { brokers = "${brokers}"; group_id = "hb-portal-${uniq}";
  topics = ( "${topic}" ); commit_interval_ms = 200; };
delivery = { allow_networks = [ "127.0.0.0/8" ]; concurrency = 8;
  dead_letter_topic = "hb-portal-dlq-${uniq}"; on_exhausted = "dead_letter";
  retry = { initial_ms = 50; max_ms = 500; max_attempts = 3; schedule = [ ]; }; };
webhooks = ( );
api = { listen = "127.0.0.1:${apiPort}"; token_env = "HB_PORTAL_TEST_TOKEN";
  secret_key_env = "HB_PORTAL_TEST_KEY"; store_topic = "hb-portal-store-${uniq}";
  store_replication_factor = 1; rotation_grace = "1h";
  frame_ancestors = "'self' https://app.example.com"; };
admin = { listen = "127.0.0.1:${adminPort}"; };
`;
  const cfgPath = path.join(tmp, "hookbridge.cfg");
  fs.writeFileSync(cfgPath, cfg);
  start(path.join(build, "hookbridge"), ["run", "-c", cfgPath], { HB_PORTAL_TEST_TOKEN: opToken, HB_PORTAL_TEST_KEY: apiKey }, logPath);
  await waitFor(
    "hookbridge ready (/readyz 200)",
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    60000,
  );
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 375, height: 812 } });
  page.setDefaultTimeout(15000);
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
});

after(async () => {
  if (browser) await browser.close();
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await sleep(500);
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  if (process.exitCode && fs.existsSync(logPath)) {
    console.log(`hookbridge's log (${logPath}), last lines:`);
    console.log(fs.readFileSync(logPath, "utf8").split("\n").slice(-40).join("\n"));
  } else fs.rmSync(tmp, { recursive: true, force: true });
});

// --- the tests --------------------------------------------------------------

test("a portal token is minted by an operator token only", async () => {
  const now = Math.floor(Date.now() / 1000);
  const m = await mint(A);
  assert.match(m.token, /^hbpt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.equal(m.url, `/portal/#token=${m.token}`);
  assert.ok(m.expires_at > now && m.expires_at <= now + 3600 + 2, `expires_at ${m.expires_at}`);
  const short = await api("POST", `/v1/apps/${A}/portal-token`, { body: { ttl: 120 } });
  assert.equal(short.status, 201);
  assert.ok(short.json.expires_at <= now + 122);
  const long = await api("POST", `/v1/apps/${A}/portal-token`, { body: { ttl: 7200 } });
  assert.equal(long.status, 422, "more than an hour is refused");
  // a portal token cannot mint, for its app or another
  for (const app of [A, B]) {
    const r = await api("POST", `/v1/apps/${app}/portal-token`, { token: m.token });
    assert.equal(r.status, 403, `portal token minting for ${app}: ${r.status}`);
  }
  const none = await api("POST", `/v1/apps/${A}/portal-token`, { token: null });
  assert.equal(none.status, 401);
});

test("the page is served with a strict CSP and no inline code", async () => {
  const r = await fetch(`http://127.0.0.1:${apiPort}/portal/`);
  assert.equal(r.status, 200);
  const csp = r.headers.get("content-security-policy");
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /style-src 'self';/);
  assert.match(csp, /frame-ancestors 'self' https:\/\/app\.example\.com/);
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  assert.equal(r.headers.get("referrer-policy"), "no-referrer");
  assert.match(r.headers.get("cache-control"), /no-cache/);
  const html = await r.text();
  assert.doesNotMatch(html, /<style|style=|<script>/);
  for (const f of ["portal.js", "api.js", "form.js", "dialogs.js", "dom.js", "portal.css", "types.json"]) {
    const x = await fetch(`http://127.0.0.1:${apiPort}/portal/${f}`);
    assert.equal(x.status, 200, f);
    assert.ok(x.headers.get("content-security-policy"), `${f} has the CSP`);
  }
  const etag = r.headers.get("etag");
  const again = await fetch(`http://127.0.0.1:${apiPort}/portal/`, { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
});

test("without a token the page says where to open it", async () => {
  await openPortal("/portal/");
  assert.match(await page.textContent("#fatal"), /open it from there/i);
});

test("create a webhook through the form; its events arrive, signed", async () => {
  const { url } = await mint(A);
  await openPortal(url);
  assert.ok(!page.url().includes("token"), `the token left the address bar: ${page.url()}`);
  assert.equal(await page.evaluate(() => location.hash), "", "no token in location.hash");
  assert.match(await page.textContent("#title"), new RegExp(A));
  assert.equal(await page.isVisible("#empty"), true);
  await shot("empty");

  await page.click("#create");
  // validation is the API's, next to the field it names
  await page.fill("#f-name", "crm-sync");
  await page.fill("#f-url", "ftp://crm.example.com/hook");
  await page.click("#save");
  await page.waitForSelector("#e-url:not([hidden])");
  const urlMsg = await page.textContent("#e-url");
  assert.ok(urlMsg.length > 5, `a message next to the URL: ${urlMsg}`);
  assert.equal(await page.getAttribute("#f-url", "aria-invalid"), "true");
  await shot("form-invalid");

  await page.fill("#f-url", `http://127.0.0.1:${rxPort}/a`);
  await page.check("#ev-flows_completed");
  await page.check("#ev-nps_score");
  // properties: 10 at most together, enforced as they are typed
  await page.fill("#f-user-props", "plan");
  await page.press("#f-user-props", "Enter");
  await page.fill("#f-company-props", "industry, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11");
  assert.equal((await page.inputValue("#f-company-props")).split(",").length, 9, "typing past 10 is cut");
  assert.match(await page.textContent("#props-count"), /10 of 10/);
  await page.fill("#f-company-props", "industry");
  await page.press("#f-company-props", "Enter");
  assert.match(await page.textContent("#props-count"), /2 of 10/);
  await shot("form");
  await page.click("#save");

  // the generated secret, shown once
  await page.waitForSelector("#secret-dialog[open]");
  const secret = await page.inputValue("#secret-value");
  assert.match(secret, /^whsec_/);
  await shot("secret-once", false);
  await setSecret(secret);
  await page.click("#secret-dialog button.primary");
  // (the dialog's close event, which clears it, comes as a task of its own)
  await page.waitForFunction(() => !document.querySelector("#secret-dialog").open && !document.querySelector("#secret-value").value);
  await page.waitForSelector("#hooks li");
  hookId = await page.getAttribute("#hooks li", "data-id");
  assert.ok(hookId);
  assert.equal(await page.textContent("#hooks li .hook-host"), `127.0.0.1:${rxPort}`);

  const start = received().length;
  batch("one", 3);
  const got = await waitFor("3 flows.completed + 3 nps.score at /a", () => {
    const g = since(start);
    return g.filter((r) => r.payload?.app_token === A).length >= 6 && g;
  });
  await sleep(1000);
  const all = since(start);
  assert.equal(all.length, 6, `exactly A's 6 events: ${all.length}`);
  for (const r of all) {
    const p = JSON.parse(r.body);
    assert.equal(p.app_token, A, "never another app's event");
    assert.equal(r.verified, true, "signed with the generated secret");
    assert.equal(p.data.user.plan, "pro", "the chosen user property");
    assert.equal(p.data.company.industry, "SaaS", "the chosen company property");
  }
  assert.equal(got.filter((r) => JSON.parse(r.body).type === "nps.score").length, 3);
  await shot("list");
});

test("an event switched off stops arriving; the others go on", async () => {
  await page.click(`#hooks li[data-id="${hookId}"] [data-act=edit]`);
  await page.waitForSelector("#form-screen:not([hidden])");
  assert.equal(await page.inputValue("#f-name"), "crm-sync");
  const sw = "#ev-nps_score-on";
  assert.equal(await page.isChecked(sw), true);
  await page.click(sw);
  assert.equal(await page.isChecked(sw), false);
  await shot("form-edit");
  await page.click("#save");
  await page.waitForSelector("#list-screen:not([hidden])");
  assert.match(await page.textContent(`#hooks li[data-id="${hookId}"] .hook-events`), /nps\.score/);
  const r = await api("GET", `/v1/apps/${A}/webhooks/${hookId}`);
  assert.deepEqual(
    r.json.events.find((e) => e.type === "nps.score"),
    { type: "nps.score", enabled: false },
    JSON.stringify(r.json.events),
  );
  await sleep(3000); // a change reaches the delivering worker within 2 s
  const start = received().length;
  batch("two", 3);
  await waitFor("3 flows.completed at /a", () => since(start).length >= 3);
  await sleep(2000);
  const types = since(start).map((x) => JSON.parse(x.body).type);
  assert.deepEqual(types.sort(), ["flows.completed", "flows.completed", "flows.completed"], types.join());
});

test("the status switch disables the webhook", async () => {
  const sw = `#hooks li[data-id="${hookId}"] .hook-enabled`;
  await page.click(sw);
  await waitFor("disabled", async () => (await page.textContent(`#hooks li[data-id="${hookId}"] .hook-enabled-label`)) === "Disabled");
  let r = await api("GET", `/v1/apps/${A}/webhooks/${hookId}`);
  assert.equal(r.json.enabled, false);
  await sleep(3000);
  const start = received().length;
  batch("off", 2);
  await sleep(4000);
  assert.equal(since(start).length, 0, "a disabled webhook receives nothing");
  await page.click(sw);
  await waitFor("enabled", async () => (await page.textContent(`#hooks li[data-id="${hookId}"] .hook-enabled-label`)) === "Enabled");
  r = await api("GET", `/v1/apps/${A}/webhooks/${hookId}`);
  assert.equal(r.json.enabled, true);
});

test("Send Test shows the receiver's answer", async (t) => {
  await fetch(`http://127.0.0.1:${rxPort}/_control/script?path=/a`, { method: "PUT", body: "201" });
  const start = received().length;
  await page.click(`#hooks li[data-id="${hookId}"] [data-act=test]`);
  await page.waitForSelector("#test-dialog[open]");
  try {
    await page.selectOption("#test-type", "flows.completed");
    await page.click("#test-send");
    await page.waitForSelector("#test-result:not([hidden]), #test-error:not([hidden])");
    if (await page.isVisible("#test-error")) {
      const err = await page.textContent("#test-error");
      const r = await api("POST", `/v1/apps/${A}/webhooks/${hookId}/test`, { body: { type: "flows.completed" } });
      if (r.status === 501) {
        await shot("send-test-501", false);
        t.skip(`the API's Send Test is not there yet (501: ${err})`);
        return;
      }
      assert.fail(`Send Test failed on the page: ${err}`);
    }
    assert.match(await page.textContent("#test-status"), /^201/);
    assert.match(await page.textContent("#test-time"), /\d+ ms|under 1 ms/);
    assert.match(await page.textContent("#test-body"), /ok/);
    await shot("send-test", false);
    const got = await waitFor("the test at /a", () => since(start).length >= 1 && since(start));
    assert.equal(JSON.parse(got[0].body).type, "flows.completed");
    assert.equal(got[0].verified, true);
  } finally {
    await page.click("#test-dialog button[value=close]");
    await fetch(`http://127.0.0.1:${rxPort}/_control/script?path=/a`, { method: "PUT", body: "200" });
  }
});

test("a rotated secret signs what follows", async () => {
  await page.click(`#hooks li[data-id="${hookId}"] [data-act=rotate]`);
  await page.waitForSelector("#confirm-dialog[open]");
  await page.click("#confirm-yes");
  await page.waitForSelector("#secret-dialog[open]");
  const secret = await page.inputValue("#secret-value");
  assert.match(secret, /^whsec_/);
  await page.click("#secret-dialog button.primary");
  await setSecret(secret); // the receiver knows the new one only
  await sleep(3000);
  const start = received().length;
  batch("rot", 2);
  const got = await waitFor("2 events at /a", () => since(start).length >= 2 && since(start));
  for (const r of got) assert.equal(r.verified, true, "verified with the new secret alone");
});

test("the health panel shows the webhook's deliveries", async () => {
  const h = await api("GET", `/v1/apps/${A}/webhooks/${hookId}/health`);
  if (h.status === 200) {
    // the list's badge, from .../health, once the deliveries are counted
    await waitFor("a healthy badge", async () => {
      await openPortal((await mint(A)).url);
      await page.waitForSelector(`#hooks li[data-id="${hookId}"] .badge:not(:empty)`);
      return (await page.textContent(`#hooks li[data-id="${hookId}"] .badge`)) === "healthy";
    });
    await shot("list");
  }
  await page.click(`#hooks li[data-id="${hookId}"] .badge`);
  await page.waitForSelector("#health-dialog[open]");
  if (h.status === 200) {
    await waitFor("Delivered > 0", async () => {
      await page.click("#health-refresh");
      await sleep(300);
      return /Delivered\s*[1-9]/.test(await page.textContent("#health-facts"));
    });
  } else console.log(`(health: ${h.status}, not yet on this build)`);
  await shot("health", false);
  await page.click("#health-dialog button.primary");
});

test("a dead letter, then the health panel's redrive sends it again", async () => {
  await fetch(`http://127.0.0.1:${rxPort}/_control/script?path=/a`, { method: "PUT", body: "500" });
  let start = received().length;
  produce([raw("Flow Completed", A, "dead-1", { flow_id: 4242 })]);
  await waitFor("3 failed attempts at /a", () => since(start).length >= 3);
  const dead = await waitFor("dead_lettered 1 in .../health", async () => {
    const h = await api("GET", `/v1/apps/${A}/webhooks/${hookId}/health`);
    return h.status === 200 && h.json.dead_lettered >= 1 && h.json;
  });
  assert.equal(dead.last_failure.status, 500);
  await fetch(`http://127.0.0.1:${rxPort}/_control/script?path=/a`, { method: "PUT", body: "200" });
  await page.click(`#hooks li[data-id="${hookId}"] .badge`);
  await page.waitForSelector("#health-dialog[open]");
  await waitFor("the panel shows the dead letter", async () => {
    await page.click("#health-refresh");
    await sleep(300);
    return /Dead-lettered\s*1/.test(await page.textContent("#health-facts"));
  });
  assert.match(await page.textContent("#health-facts"), /HTTP 500/);
  start = received().length;
  await page.click("#redrive");
  await page.waitForSelector("#redrive-result:not([hidden]), #redrive-error:not([hidden])");
  assert.equal(await page.isVisible("#redrive-error"), false, await page.textContent("#redrive-error"));
  assert.match(await page.textContent("#redrive-result"), /Redrive started: 1 dead letter/);
  await shot("health-redrive", false);
  const got = await waitFor("the dead letter again at /a", () => {
    const g = since(start).filter((r) => r.status === 200);
    return g.length >= 1 && g;
  });
  assert.equal(JSON.parse(got[0].body).data.id, 4242);
  assert.equal(got[0].verified, true);
  await page.click("#health-dialog button.primary");
});

test("three browsers behind one address open the page at once", async () => {
  // (one client address: a NAT, or the product's office; each browser
  // opens up to 6 connections)
  const ctxs = await Promise.all([0, 1, 2].map(() => browser.newContext({ viewport: { width: 375, height: 812 } })));
  try {
    const urls = await Promise.all(ctxs.map(() => mint(A)));
    const names = await Promise.all(
      ctxs.map(async (c, i) => {
        const p = await c.newPage();
        await p.goto(`http://127.0.0.1:${apiPort}${urls[i].url}`);
        await p.waitForSelector(`#hooks li[data-id="${hookId}"] .badge:not(:empty)`, { timeout: 20000 });
        return p.textContent(`#hooks li[data-id="${hookId}"] .hook-name`);
      }),
    );
    assert.deepEqual(names, ["crm-sync", "crm-sync", "crm-sync"]);
  } finally {
    await Promise.all(ctxs.map((c) => c.close()));
  }
});

test("a token of app A reaches nothing of app B", async () => {
  const b = await api("POST", `/v1/apps/${B}/webhooks`, {
    body: { name: "b-hook", url: `http://127.0.0.1:${rxPort}/b`, events: [{ type: "*", enabled: true }] },
  });
  assert.equal(b.status, 201, b.text);
  hookB = b.json.id;
  const { token } = await mint(A);
  const paths = [
    ["GET", `/v1/apps/${B}/webhooks`],
    ["POST", `/v1/apps/${B}/webhooks`],
    ["GET", `/v1/apps/${B}/webhooks/${hookB}`],
    ["PATCH", `/v1/apps/${B}/webhooks/${hookB}`],
    ["DELETE", `/v1/apps/${B}/webhooks/${hookB}`],
    ["POST", `/v1/apps/${B}/webhooks/${hookB}/test`],
    ["POST", `/v1/apps/${B}/webhooks/${hookB}/rotate-secret`],
    ["GET", `/v1/apps/${B}/webhooks/${hookB}/health`],
    ["POST", `/v1/apps/${B}/webhooks/${hookB}/redrive`],
    ["POST", `/v1/apps/${B}/portal-token`],
  ];
  for (const [m, p] of paths) {
    const r = await api(m, p, { token, body: m === "GET" || m === "DELETE" ? undefined : {} });
    assert.ok([403, 404].includes(r.status), `${m} ${p} with A's token: ${r.status}`);
    assert.ok(!r.text.includes("b-hook"), `${m} ${p} shows B's webhook`);
  }
  // B's id under A's path: not there
  for (const [m, p] of [
    ["GET", `/v1/apps/${A}/webhooks/${hookB}`],
    ["PATCH", `/v1/apps/${A}/webhooks/${hookB}`],
    ["DELETE", `/v1/apps/${A}/webhooks/${hookB}`],
  ]) {
    const r = await api(m, p, { token, body: m === "PATCH" ? { name: "x" } : undefined });
    assert.equal(r.status, 404, `${m} ${p}: ${r.status}`);
  }
  const list = await api("GET", `/v1/apps/${A}/webhooks`, { token });
  assert.equal(list.status, 200);
  assert.doesNotMatch(list.text, new RegExp(hookB));
  // tampered and expired tokens
  const bad = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
  assert.equal((await api("GET", `/v1/apps/${A}/webhooks`, { token: bad })).status, 401);
  // through the page: A's page lists A's webhook only; B's page not A's
  const pb = await mint(B);
  await openPortal(pb.url);
  await page.waitForSelector("#hooks li");
  const names = await page.$$eval("#hooks li .hook-name", (l) => l.map((x) => x.textContent));
  assert.deepEqual(names, ["b-hook"]);
  // the page's own requests with B's token to A's path are refused
  const status = await page.evaluate(
    async ([a, t]) => (await fetch(`/v1/apps/${a}/webhooks`, { headers: { Authorization: `Bearer ${t}` } })).status,
    [A, pb.token],
  );
  assert.ok([401, 403].includes(status), `page fetch of A's list: ${status}`);
  const { url } = await mint(A);
  await openPortal(url);
  await page.waitForSelector("#hooks li");
  const namesA = await page.$$eval("#hooks li .hook-name", (l) => l.map((x) => x.textContent));
  assert.deepEqual(namesA, ["crm-sync"]);
});

test("the page fits 375 px and is usable from the keyboard", async () => {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 375, `scroll width ${w}`);
  // every control has a name
  const unnamed = await page.$$eval("button, input, select", (els) =>
    els
      .filter((e) => e.offsetParent !== null)
      .filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || e.textContent.trim()))
      .map((e) => e.outerHTML),
  );
  assert.deepEqual(unnamed, []);
  // Tab reaches "Create webhook"; Enter opens the form; Escape-free cancel
  await page.focus("body");
  let found = false;
  for (let i = 0; i < 10 && !found; i++) {
    await page.keyboard.press("Tab");
    found = await page.evaluate(() => document.activeElement?.id === "create");
  }
  assert.ok(found, "Create webhook is reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#form-screen:not([hidden])");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "f-name");
  await page.click("#cancel");
});

test("delete, with a confirmation; nothing more arrives", async () => {
  await page.click(`#hooks li[data-id="${hookId}"] [data-act=delete]`);
  await page.waitForSelector("#confirm-dialog[open]");
  assert.match(await page.textContent("#confirm-title"), /Delete/);
  await shot("delete-confirm", false);
  await page.click("#confirm-no"); // changed one's mind
  assert.equal(await page.isVisible(`#hooks li[data-id="${hookId}"]`), true);
  await page.click(`#hooks li[data-id="${hookId}"] [data-act=delete]`);
  await page.click("#confirm-yes");
  await page.waitForSelector(`#hooks li[data-id="${hookId}"]`, { state: "detached" });
  assert.equal(await page.isVisible("#empty"), true);
  assert.equal((await api("GET", `/v1/apps/${A}/webhooks/${hookId}`)).status, 404);
  await sleep(3000);
  const start = received().length;
  batch("gone", 2);
  await sleep(4000);
  assert.equal(since(start).length, 0, "a deleted webhook receives nothing");
});
