/*
 * The extension's background service worker: one captured session per tab.
 *
 * It opens the session on the tab's first event, numbers the events in the
 * order they arrive (one session spans many pages, each recorder numbering
 * from its own start), sends them to the ingest API in batches with
 * `Authorization: Capture <token>`, adds a screenshot after clicks and
 * submits, and closes the session when the tab closes or has been idle.
 *
 * A service worker may be stopped at any time, so what a tab's session needs
 * (its id, the next sequence, the events not yet accepted) lives in
 * chrome.storage.session, not in variables. A batch that fails is kept and
 * sent again; the API ignores sequences it already has, so a resend adds
 * nothing twice.
 */
"use strict";

const BATCH_MAX = 500;
const DEFAULT_IDLE_MINUTES = 5;
const MIN_IDLE_MINUTES = 0.1;
const SCREENSHOT_MIN_INTERVAL_MS = 1000;
const ALARM = "farm-recorder-idle";

const chains = new Map(); // tabId -> promise: one tab's work runs in order
let lastScreenshotAt = 0;

function config() {
  return chrome.storage.local.get(["apiBase", "token", "idleMinutes", "task", "paused"]);
}

function tabKey(tabId) {
  return `tab:${tabId}`;
}

async function tabState(tabId) {
  const key = tabKey(tabId);
  const stored = await chrome.storage.session.get(key);
  return stored[key] || { sessionId: null, nextSequence: 0, queue: [], lastEventAt: 0, page: null };
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

async function api(cfg, path, options = {}) {
  const base = String(cfg.apiBase).replace(/\/+$/, "");
  const headers = { Authorization: `Capture ${cfg.token}`, ...(options.headers || {}) };
  const response = await fetch(`${base}/api/v1/capture/${path}`, { ...options, headers });
  if (!response.ok && response.status !== 409) {
    const text = await response.text().catch(() => "");
    throw new Error(`${options.method || "GET"} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
  return response.status === 409 ? null : response.json();
}

async function sessionOpen(cfg, state) {
  const page = state.page || {};
  const body = {
    kind: "human",
    start_url: page.url || "",
    user_agent: page.user_agent || "",
    task: cfg.task || ""
  };
  if (page.viewport && page.viewport.width > 0 && page.viewport.height > 0) body.viewport = page.viewport;
  const session = await api(cfg, "sessions/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  });
  return session.id;
}

async function send(tabId) {
  const cfg = await config();
  if (!cfg.apiBase || !cfg.token) return;
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
    await saveTabState(tabId, state);
  }
}

async function screenshot(tabId, windowId, sequence) {
  const cfg = await config();
  const state = await tabState(tabId);
  if (!state.sessionId || Date.now() - lastScreenshotAt < SCREENSHOT_MIN_INTERVAL_MS) return;
  lastScreenshotAt = Date.now();
  let dataUrl;
  try {
    dataUrl = await chrome.tabs.captureVisibleTab(windowId, { format: "png" });
  } catch (error) {
    return; // not the visible tab, or a page that cannot be captured
  }
  const blob = await (await fetch(dataUrl)).blob();
  const form = new FormData();
  form.append("image", blob, `shot-${sequence}.png`);
  form.append("sequence", String(sequence));
  await api(cfg, `sessions/${state.sessionId}/screenshots/`, { method: "POST", body: form });
}

async function close(tabId) {
  const cfg = await config();
  const state = await tabState(tabId);
  if (cfg.apiBase && cfg.token && state.queue.length) await send(tabId);
  const after = await tabState(tabId);
  if (after.sessionId && cfg.apiBase && cfg.token) {
    await api(cfg, `sessions/${after.sessionId}/close/`, { method: "POST" });
  }
  await forgetTab(tabId);
}

async function receive(tabId, windowId, events, page) {
  const cfg = await config();
  if (!cfg.apiBase || !cfg.token || cfg.paused) return;
  const state = await tabState(tabId);
  let firstAction = null;
  for (const event of events) {
    event.sequence = state.nextSequence++;
    if (firstAction === null && (event.kind === "click" || event.kind === "submit")) firstAction = event.sequence;
    state.queue.push(event);
  }
  state.lastEventAt = Date.now();
  if (!state.page) state.page = page;
  await saveTabState(tabId, state);
  await send(tabId);
  if (firstAction !== null && windowId !== undefined) {
    await screenshot(tabId, windowId, firstAction).catch(() => {});
  }
}

chrome.runtime.onMessage.addListener((message, sender, reply) => {
  if (!message || message.type !== "farm-events" || !sender.tab || !Array.isArray(message.events)) {
    return false;
  }
  const tab = sender.tab;
  serial(tab.id, () => receive(tab.id, tab.windowId, message.events, message.page || null)).then(() =>
    reply({ ok: true })
  );
  return true; // the reply comes after the send
});

chrome.tabs.onRemoved.addListener((tabId) => {
  serial(tabId, () => close(tabId));
});

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

chrome.runtime.onInstalled.addListener(scheduleChecks);
chrome.runtime.onStartup.addListener(scheduleChecks);
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && changes.idleMinutes) scheduleChecks();
});

chrome.action.onClicked.addListener(() => chrome.runtime.openOptionsPage());
