/*
 * The extension's background service worker: one captured session per tab.
 *
 * It alone holds the settings (chrome.storage.local, closed to content
 * scripts) and the events on their way to the farm (chrome.storage.session,
 * likewise). Content scripts run only on the sites the person opted into
 * (optional host permissions, asked for on the options page), and only while
 * recording is on: the worker registers them for those origins, never for the
 * farm's own. They hand events over by runtime messaging; the worker checks
 * who sent them and what they are (kinds, types, lengths, counts), drops any
 * that a page could have made (not trusted, another origin), numbers them in
 * the order they arrive (one session spans many pages, each recorder
 * numbering from its own start) and sends them to the ingest API in batches
 * with `Authorization: Capture <token>`, over https (plain http only to this
 * machine). After clicks and submits it adds a screenshot, when the person
 * has clicked the toolbar button in that tab (activeTab). It closes the
 * session when the tab closes or has been idle.
 *
 * A service worker may be stopped at any time, so what a tab's session needs
 * (its id, the next sequence, the events not yet accepted) lives in
 * chrome.storage.session, not in variables. A batch that fails is kept and
 * sent again; the API ignores sequences it already has, so a resend adds
 * nothing twice.
 */
"use strict";

importScripts("common.js");

const BATCH_MAX = 500;
const DEFAULT_IDLE_MINUTES = 5;
const MIN_IDLE_MINUTES = 0.1;
// Chrome allows two captureVisibleTab calls a second.
const SCREENSHOTS_PER_SECOND = 2;
const ALARM = "farm-recorder-idle";
const SCRIPT_ID = "farm-recorder";

// What one message from a content script, and one session, may bring.
const MESSAGE_MAX_EVENTS = 100;
const SESSION_MAX_EVENTS = 5000;
const EVENT_MAX_BYTES = 64 * 1024;
const QUEUE_MAX_BYTES = 2 * 1024 * 1024; // per tab; chrome.storage.session holds 10 MB in all
const TIMESTAMP_PAST_MS = 24 * 60 * 60 * 1000;
const TIMESTAMP_FUTURE_MS = 60 * 1000;

const EVENT_KINDS = ["navigate", "click", "input", "scroll", "submit"];
const TARGET_KINDS = ["click", "input", "submit"]; // a target is required; scroll may have one
const SELECTOR_KINDS = ["testid", "role", "label", "text", "id", "css", "xpath"];
const MASKED_KINDS = ["password", "input"];
// String caps, as the recorder applies them (anything longer did not come from it).
const CAP = {
  url: 2000,
  title: 500,
  value: 1000,
  tag: 40,
  text: 200,
  role: 60,
  name: 200,
  attributeName: 60,
  attributeValue: 300,
  selector: 2000,
  snippet: 4096
};
const MAX_ATTRIBUTES = 40;
const MAX_SELECTORS = 10;
const MAX_NEARBY = 5;
const MAX_NEARBY_SELECTORS = 3;

const chains = new Map(); // tabId -> promise: one tab's work runs in order
let screenshotTimes = []; // when the captures of the last second were taken

// ---- Storage: trusted contexts only -----------------------------------------

// The token is in chrome.storage.local and the queued events in
// chrome.storage.session: neither is readable from a content script.
function restrictStorage() {
  for (const area of [chrome.storage.local, chrome.storage.session]) {
    area.setAccessLevel({ accessLevel: "TRUSTED_CONTEXTS" }).catch((error) =>
      console.warn("farm recorder: could not restrict storage:", error && error.message)
    );
  }
}
restrictStorage();

async function config() {
  const cfg = await chrome.storage.local.get([
    "apiBase",
    "token",
    "idleMinutes",
    "task",
    "recording",
    "sites",
    "allowList"
  ]);
  // An address the options page would refuse is no address (see common.js).
  if (!cfg.apiBase || farmApiBaseProblem(cfg.apiBase)) cfg.apiBase = "";
  if (typeof cfg.token !== "string") cfg.token = "";
  cfg.farmOrigin = cfg.apiBase ? farmOriginOf(cfg.apiBase) : "";
  return cfg;
}

function configured(cfg) {
  return Boolean(cfg.apiBase && cfg.token);
}

// The origins to record now: opted into, still granted, never the farm's own,
// and none while recording is off or the farm cannot be reached.
async function recordedOrigins(cfg) {
  if (!cfg.recording || !configured(cfg)) return [];
  const farmReachable = await chrome.permissions.contains({ origins: [farmOriginPattern(cfg.farmOrigin)] });
  if (!farmReachable) return [];
  const out = [];
  for (const site of Array.isArray(cfg.sites) ? cfg.sites : []) {
    const origin = farmOriginOf(site);
    if (!origin || origin === cfg.farmOrigin || out.includes(origin)) continue;
    if (await chrome.permissions.contains({ origins: [farmOriginPattern(origin)] })) out.push(origin);
  }
  return out;
}

// ---- Content scripts: registered for the recorded origins only --------------

let syncing = Promise.resolve();

async function syncOnce() {
  const origins = await recordedOrigins(await config());
  const registered = await chrome.scripting.getRegisteredContentScripts({ ids: [SCRIPT_ID] });
  if (!origins.length) {
    if (registered.length) await chrome.scripting.unregisterContentScripts({ ids: [SCRIPT_ID] });
    return origins;
  }
  const script = {
    id: SCRIPT_ID,
    matches: origins.map(farmOriginPattern),
    js: ["recorder.js", "content.js"],
    runAt: "document_start",
    allFrames: false,
    persistAcrossSessions: true
  };
  if (registered.length) {
    await chrome.scripting.updateContentScripts([script]);
  } else {
    await chrome.scripting.registerContentScripts([script]);
  }
  return origins;
}

function syncContentScripts() {
  syncing = syncing.catch(() => {}).then(syncOnce);
  return syncing;
}

// ---- Tab state -----------------------------------------------------------------

function tabKey(tabId) {
  return `tab:${tabId}`;
}

async function tabState(tabId) {
  const key = tabKey(tabId);
  const stored = await chrome.storage.session.get(key);
  return (
    stored[key] || { sessionId: null, nextSequence: 0, queue: [], queueBytes: 0, lastEventAt: 0, page: null }
  );
}

async function saveTabState(tabId, state) {
  await chrome.storage.session.set({ [tabKey(tabId)]: state });
}

async function forgetTab(tabId) {
  await chrome.storage.session.remove(tabKey(tabId));
}

// Runs `work` after the tab's earlier work, whatever became of it.
function serial(tabId, work) {
  const previous = chains.get(tabId) || Promise.resolve();
  const next = previous.catch(() => {}).then(work);
  chains.set(tabId, next);
  return next.catch((error) => console.warn("farm recorder:", error && error.message ? error.message : error));
}

// ---- Checking what content scripts send ------------------------------------------

class Invalid extends Error {}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// A string cut to its cap; a missing one is `fallback`; any other type is refused.
function text(value, cap, fallback = "") {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string") throw new Invalid("not a string");
  return value.length > cap ? value.slice(0, cap) : value;
}

function number(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Invalid("not a number");
  return value;
}

function flag(value, fallback = null) {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw new Invalid("not a boolean");
  return value;
}

function list(value) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Invalid("not a list");
  return value;
}

function cleanBbox(bbox) {
  if (bbox === undefined || bbox === null) return null;
  if (!isObject(bbox)) throw new Invalid("bbox");
  return { x: number(bbox.x), y: number(bbox.y), width: number(bbox.width), height: number(bbox.height) };
}

function cleanAttributes(attributes) {
  if (attributes === undefined || attributes === null) return {};
  if (!isObject(attributes)) throw new Invalid("attributes");
  const out = {};
  for (const [name, value] of Object.entries(attributes).slice(0, MAX_ATTRIBUTES)) {
    if (!/^[a-z][a-z0-9_:.-]*$/i.test(name) || name.length > CAP.attributeName) throw new Invalid("attribute name");
    out[name] = text(value, CAP.attributeValue);
  }
  return out;
}

// A selector cut short would name another element: one over the cap is left out.
function cleanSelectors(selectors, max) {
  const out = [];
  for (const s of list(selectors).slice(0, max)) {
    if (!isObject(s) || !SELECTOR_KINDS.includes(s.kind) || typeof s.value !== "string") {
      throw new Invalid("selector");
    }
    const score = number(s.score);
    if (score < 0 || score > 1) throw new Invalid("selector score");
    if (s.value.length <= CAP.selector) out.push({ kind: s.kind, value: s.value, score, unique: flag(s.unique, false) });
  }
  return out;
}

function cleanTarget(target, nested) {
  if (!isObject(target)) throw new Invalid("target");
  const tag = text(target.tag, CAP.tag);
  if (!tag) throw new Invalid("tag");
  const out = {
    tag,
    text: text(target.text, CAP.text),
    role: text(target.role, CAP.role),
    name: text(target.name, CAP.name),
    attributes: cleanAttributes(target.attributes),
    bbox: cleanBbox(target.bbox),
    selectors: cleanSelectors(target.selectors, nested ? MAX_NEARBY_SELECTORS : MAX_SELECTORS)
  };
  if (!nested) {
    out.nearby = list(target.nearby)
      .slice(0, MAX_NEARBY)
      .map((n) => cleanTarget(n, true));
    out.dom_snippet = text(target.dom_snippet, CAP.snippet);
  }
  return out;
}

// One event as the recorder makes it, rebuilt field by field; null when it is
// not one: a kind or a type it never sends, an event a script made (not
// trusted), or a page of another origin than the sender's.
function cleanEvent(raw, origin, now) {
  try {
    if (!isObject(raw) || raw.trusted !== true || !EVENT_KINDS.includes(raw.kind)) return null;
    const timestamp = raw.timestamp_ms;
    if (!Number.isInteger(timestamp) || timestamp < now - TIMESTAMP_PAST_MS || timestamp > now + TIMESTAMP_FUTURE_MS) {
      return null;
    }
    const url = text(raw.url, CAP.url);
    if (farmOriginOf(url) !== origin) return null;
    const hasTarget = raw.target !== undefined && raw.target !== null;
    if (TARGET_KINDS.includes(raw.kind) ? !hasTarget : hasTarget && raw.kind !== "scroll") return null;
    const value = raw.value === undefined || raw.value === null ? null : text(raw.value, CAP.value);
    const maskedKinds = list(raw.masked_kinds);
    if (maskedKinds.length > MASKED_KINDS.length || !maskedKinds.every((k) => MASKED_KINDS.includes(k))) return null;
    const event = {
      timestamp_ms: timestamp,
      kind: raw.kind,
      url,
      title: text(raw.title, CAP.title),
      value: raw.kind === "input" ? value : null,
      masked: flag(raw.masked, false),
      masked_kinds: maskedKinds.slice(),
      target: hasTarget ? cleanTarget(raw.target, false) : null,
      scroll: null,
      found_in_dom: flag(raw.found_in_dom)
    };
    if (raw.kind === "scroll") {
      if (!isObject(raw.scroll)) return null;
      event.scroll = { x: number(raw.scroll.x), y: number(raw.scroll.y) };
    }
    if (raw.kind === "click") event.dom_changed = flag(raw.dom_changed, false);
    return event;
  } catch (error) {
    if (error instanceof Invalid) return null;
    throw error;
  }
}

function cleanViewport(viewport) {
  if (!isObject(viewport)) return null;
  const { width, height } = viewport;
  if (!Number.isInteger(width) || !Number.isInteger(height)) return null;
  if (width < 1 || height < 1 || width > 100000 || height > 100000) return null;
  return { width, height };
}

// The origin of a content script's top frame in a tab, or "" for any other sender.
function contentOrigin(sender) {
  if (sender.id !== chrome.runtime.id || !sender.tab || typeof sender.tab.id !== "number") return "";
  if (sender.frameId !== 0) return "";
  return farmOriginOf(sender.origin && sender.origin !== "null" ? sender.origin : sender.url);
}

function fromExtensionPage(sender) {
  return sender.id === chrome.runtime.id && String(sender.url || "").startsWith(chrome.runtime.getURL(""));
}

// ---- The ingest API ---------------------------------------------------------------

async function api(cfg, path, options = {}) {
  if (!configured(cfg)) throw new Error("not set up");
  const base = String(cfg.apiBase).replace(/\/+$/, "");
  const headers = { Authorization: `Capture ${cfg.token}`, ...(options.headers || {}) };
  const response = await fetch(`${base}/api/v1/capture/${path}`, {
    ...options,
    headers,
    credentials: "omit",
    redirect: "error" // a redirect could take the token elsewhere, or to plain http
  });
  if (!response.ok && response.status !== 409) {
    const body = await response.text().catch(() => "");
    throw new Error(`${options.method || "GET"} ${path}: HTTP ${response.status} ${body.slice(0, 200)}`);
  }
  return response.status === 409 ? null : response.json();
}

async function sessionOpen(cfg, state) {
  const page = state.page || {};
  const body = {
    kind: "human",
    start_url: page.url || "",
    user_agent: navigator.userAgent.slice(0, 500),
    task: String(cfg.task || "").slice(0, 10000)
  };
  if (page.viewport) body.viewport = page.viewport;
  const session = await api(cfg, "sessions/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  });
  return session.id;
}

async function send(tabId) {
  const cfg = await config();
  if (!configured(cfg)) return;
  const state = await tabState(tabId);
  if (!state.queue.length) return;
  if (!state.sessionId) {
    state.sessionId = await sessionOpen(cfg, state);
    await saveTabState(tabId, state);
  }
  while (state.queue.length) {
    const batch = state.queue.slice(0, BATCH_MAX);
    const answer = await api(cfg, `sessions/${state.sessionId}/events/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: batch })
    });
    if (answer === null) {
      // The server closed the session (idle, or an operator): the rest starts a
      // new one, numbered from 0 like any session.
      const first = state.queue[0].sequence;
      for (const event of state.queue) event.sequence -= first;
      state.nextSequence -= first;
      state.sessionId = null;
      await saveTabState(tabId, state);
      return send(tabId);
    }
    if (answer.errors && answer.errors.length) console.warn("farm recorder: events refused", answer.errors);
    state.queue = state.queue.slice(batch.length);
    state.queueBytes = state.queue.length ? JSON.stringify(state.queue).length : 0;
    await saveTabState(tabId, state);
  }
}

// The visible tab as a PNG data URL, or null. Taken only when it is the tab the
// events came from and still on the recorded site, at once (a click may be
// about to leave the page). Chrome allows it once the person has clicked the
// toolbar button in that tab (activeTab), until the tab leaves that site.
async function capture(tabId, origin) {
  const now = Date.now();
  screenshotTimes = screenshotTimes.filter((at) => now - at < 1000);
  if (screenshotTimes.length >= SCREENSHOTS_PER_SECOND) return null;
  const tab = await chrome.tabs.get(tabId).catch(() => null);
  if (!tab || !tab.active || farmOriginOf(tab.url) !== origin) return null;
  screenshotTimes.push(now); // a refused call counts against Chrome's quota too
  try {
    return await chrome.tabs.captureVisibleTab(tab.windowId, { format: "png" });
  } catch (error) {
    return null; // no activeTab for this tab, or a page that cannot be captured
  }
}

async function screenshotUpload(tabId, sequence, dataUrl) {
  const cfg = await config();
  const state = await tabState(tabId);
  if (!state.sessionId) return;
  const blob = await (await fetch(dataUrl)).blob();
  const form = new FormData();
  form.append("image", blob, `shot-${sequence}.png`);
  form.append("sequence", String(sequence));
  await api(cfg, `sessions/${state.sessionId}/screenshots/`, { method: "POST", body: form });
}

async function close(tabId) {
  const cfg = await config();
  const state = await tabState(tabId);
  if (configured(cfg) && state.queue.length) await send(tabId);
  const after = await tabState(tabId);
  if (after.sessionId && configured(cfg)) {
    await api(cfg, `sessions/${after.sessionId}/close/`, { method: "POST" });
  }
  await forgetTab(tabId);
}

// False when the page is no longer to be recorded (recording off, the site removed).
async function receive(tabId, origin, pageUrl, rawEvents, viewport) {
  const cfg = await config();
  if (!(await recordedOrigins(cfg)).includes(origin)) return false;
  if (rawEvents.length > MESSAGE_MAX_EVENTS) {
    console.warn(`farm recorder: ${rawEvents.length - MESSAGE_MAX_EVENTS} events over the batch cap dropped`);
  }
  const now = Date.now();
  const state = await tabState(tabId);
  let firstAction = null;
  let firstActionKind = "";
  let accepted = 0;
  let dropped = 0;
  for (const raw of rawEvents.slice(0, MESSAGE_MAX_EVENTS)) {
    const event = cleanEvent(raw, origin, now);
    const bytes = event ? JSON.stringify(event).length : 0;
    if (
      !event ||
      state.nextSequence >= SESSION_MAX_EVENTS ||
      bytes > EVENT_MAX_BYTES ||
      (state.queueBytes || 0) + bytes > QUEUE_MAX_BYTES
    ) {
      dropped += 1;
      continue;
    }
    event.sequence = state.nextSequence++;
    if (firstAction === null && (event.kind === "click" || event.kind === "submit")) {
      firstAction = event.sequence;
      firstActionKind = event.kind;
    }
    state.queue.push(event);
    state.queueBytes = (state.queueBytes || 0) + bytes;
    accepted += 1;
  }
  if (dropped) console.warn(`farm recorder: ${dropped} events dropped`);
  if (!accepted) return true;
  state.lastEventAt = Date.now();
  if (!state.page) state.page = { url: text(pageUrl, CAP.url), viewport: cleanViewport(viewport) };
  await saveTabState(tabId, state);
  // The screenshot is taken before the events go out, and sent after them (the
  // session may be opened by this very batch). A submit right after a click
  // (its button's) shows the page the click's screenshot showed.
  const afterClick = firstActionKind === "submit" && Date.now() - (state.lastClickShotAt || 0) < 1000;
  const shot = firstAction === null || afterClick ? null : await capture(tabId, origin);
  if (shot && firstActionKind === "click") {
    state.lastClickShotAt = Date.now();
    await saveTabState(tabId, state);
  }
  await send(tabId);
  if (shot) await screenshotUpload(tabId, firstAction, shot).catch(() => {});
  return true;
}

// ---- Messages ---------------------------------------------------------------------

chrome.runtime.onMessage.addListener((message, sender, reply) => {
  if (!isObject(message)) return false;
  if (message.type === "farm-sync") {
    // The options page, after a change: register the content scripts before it says "Saved".
    if (!fromExtensionPage(sender)) return false;
    syncContentScripts().then(
      (origins) => reply({ ok: true, origins }),
      (error) => reply({ ok: false, error: String(error && error.message ? error.message : error) })
    );
    return true;
  }
  const origin = contentOrigin(sender);
  if (!origin) return false;
  if (message.type === "farm-hello") {
    // Whether this page may be recorded, and the fields whose values it may keep.
    config()
      .then(async (cfg) => {
        const record = (await recordedOrigins(cfg)).includes(origin);
        const allowList = Array.isArray(cfg.allowList) ? cfg.allowList.filter((s) => typeof s === "string") : [];
        reply(record ? { record: true, allowList } : { record: false });
      })
      .catch(() => reply({ record: false }));
    return true;
  }
  if (message.type === "farm-events" && Array.isArray(message.events)) {
    const tabId = sender.tab.id;
    serial(tabId, () => receive(tabId, origin, sender.url, message.events, message.viewport)).then((recorded) =>
      reply({ ok: true, record: recorded !== false })
    );
    return true; // the reply comes after the send
  }
  return false;
});

chrome.tabs.onRemoved.addListener((tabId) => {
  serial(tabId, () => close(tabId));
});

// The toolbar button. On a recorded site it starts the recorder in the tab if
// it is not running yet (a page opened before the site was allowed) and, as
// the click grants activeTab, lets the worker take screenshots of that tab.
// Anywhere else it opens the options page, ready to allow that site.
chrome.action.onClicked.addListener((tab) => {
  (async () => {
    const origin = farmOriginOf(tab.url);
    const cfg = await config();
    if (origin && (await recordedOrigins(cfg)).includes(origin)) {
      await chrome.scripting.executeScript({ target: { tabId: tab.id }, files: ["recorder.js", "content.js"] });
      await chrome.action.setBadgeText({ tabId: tab.id, text: "REC" });
      return;
    }
    const query = origin && origin !== cfg.farmOrigin ? `?site=${encodeURIComponent(origin)}` : "";
    await chrome.tabs.create({ url: chrome.runtime.getURL(`options.html${query}`) });
  })().catch((error) => console.warn("farm recorder:", error && error.message ? error.message : error));
});

// ---- Idle sessions, retries --------------------------------------------------------

function idleMinutes(cfg) {
  const minutes = Number(cfg.idleMinutes);
  return minutes > 0 ? Math.max(minutes, MIN_IDLE_MINUTES) : DEFAULT_IDLE_MINUTES;
}

async function closeIdle() {
  const cfg = await config();
  const idleMs = idleMinutes(cfg) * 60 * 1000;
  const everything = await chrome.storage.session.get(null);
  for (const [key, state] of Object.entries(everything)) {
    if (!key.startsWith("tab:")) continue;
    const tabId = Number(key.slice(4));
    if (state.queue && state.queue.length) serial(tabId, () => send(tabId)); // a retry
    if (state.sessionId && Date.now() - (state.lastEventAt || 0) >= idleMs) {
      serial(tabId, () => close(tabId));
    }
  }
}

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARM) closeIdle();
});

// Checks a quarter of the idle time apart (at most every half minute), so a
// session closes near its time and a failed batch is retried soon. Chrome
// holds a packed extension's alarms to 30 seconds at the least.
async function scheduleChecks() {
  const cfg = await config();
  chrome.alarms.create(ALARM, { periodInMinutes: Math.min(0.5, idleMinutes(cfg) / 4) });
}

function started() {
  scheduleChecks();
  syncContentScripts().catch((error) => console.warn("farm recorder:", error && error.message));
}

chrome.runtime.onInstalled.addListener(started);
chrome.runtime.onStartup.addListener(started);
chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== "local") return;
  if (changes.idleMinutes) scheduleChecks();
  if (changes.apiBase || changes.token || changes.recording || changes.sites) {
    syncContentScripts().catch((error) => console.warn("farm recorder:", error && error.message));
  }
});
chrome.permissions.onAdded.addListener(() => syncContentScripts().catch(() => {}));
chrome.permissions.onRemoved.addListener(() => syncContentScripts().catch(() => {}));
