"use strict";

const FIELDS = ["apiBase", "token", "allowList", "task", "idleMinutes", "recording", "sites"];
const form = document.getElementById("options");
const status = document.getElementById("status");
const siteInput = document.getElementById("site");
const siteStatus = document.getElementById("siteStatus");
const siteList = document.getElementById("sites");
let saved = {};

function show(element, text, kind = "ok") {
  element.textContent = text;
  element.dataset.kind = kind;
  element.dataset.state = text;
}

// Settings and queued events stay out of content scripts' reach (the worker
// does the same whenever it starts).
for (const area of [chrome.storage.local, chrome.storage.session]) {
  area.setAccessLevel({ accessLevel: "TRUSTED_CONTEXTS" }).catch(() => {});
}

function farmOrigins() {
  // The saved farm's origin and the one typed in, if any: neither may be a recorded site.
  const origins = [];
  if (saved.apiBase) origins.push(farmOriginOf(saved.apiBase));
  const typed = farmOriginOf(farmApiBaseNormal(form.apiBase.value.trim()));
  if (typed && !origins.includes(typed)) origins.push(typed);
  return origins;
}

// The worker registers the content scripts for the sites; done before a change is reported.
async function sync() {
  try {
    return await chrome.runtime.sendMessage({ type: "farm-sync" });
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
}

async function renderSites() {
  siteList.textContent = "";
  const farm = saved.apiBase ? farmOriginOf(saved.apiBase) : "";
  for (const origin of saved.sites || []) {
    const item = document.createElement("li");
    item.dataset.origin = origin;
    const granted = await chrome.permissions.contains({ origins: [farmOriginPattern(origin)] });
    let note = "";
    if (origin === farm) note = " (the farm's own address: never recorded)";
    else if (!granted) note = " (access not granted: allow it again)";
    item.append(origin + note);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => removeSite(origin));
    item.append(remove);
    siteList.append(item);
  }
}

async function load() {
  saved = await chrome.storage.local.get(FIELDS);
  form.apiBase.value = saved.apiBase || "";
  form.token.value = saved.token || "";
  form.allowList.value = (saved.allowList || []).join(", ");
  form.task.value = saved.task || "";
  form.idleMinutes.value = saved.idleMinutes || 5;
  form.recording.checked = Boolean(saved.recording);
  const wanted = new URLSearchParams(location.search).get("site");
  if (wanted) siteInput.value = wanted;
  await renderSites();
  document.body.dataset.loaded = "true";
}

async function check(apiBase, token) {
  // A cheap authenticated read tells a wrong address or token from a good one.
  const response = await fetch(`${apiBase}/api/v1/capture/sessions/?page_size=1`, {
    headers: { Authorization: `Capture ${token}` },
    credentials: "omit",
    redirect: "error"
  });
  if (response.status === 401 || response.status === 403) return "the token was refused";
  if (!response.ok) return `the farm answered HTTP ${response.status}`;
  return "";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const typed = form.apiBase.value.trim();
  const problem = farmApiBaseProblem(typed);
  if (problem) {
    show(status, `Not saved. ${problem}`, "error");
    return;
  }
  const apiBase = farmApiBaseNormal(typed);
  const farm = farmOriginOf(apiBase);
  // Sending needs access to the farm's address; asked first, while the click counts as a gesture.
  let granted = false;
  try {
    granted = await chrome.permissions.request({ origins: [farmOriginPattern(farm)] });
  } catch (error) {
    granted = false;
  }
  if (!granted) {
    show(status, `Not saved: the extension needs access to ${farm} to send what it records there.`, "error");
    return;
  }
  const token = form.token.value.trim();
  const previousFarm = saved.apiBase ? farmOriginOf(saved.apiBase) : "";
  const values = {
    apiBase,
    token,
    allowList: form.allowList.value.split(",").map((s) => s.trim()).filter(Boolean),
    task: form.task.value.trim(),
    idleMinutes: Math.max(parseFloat(form.idleMinutes.value) || 5, 0.1),
    recording: form.recording.checked
  };
  await chrome.storage.local.set(values);
  saved = { ...saved, ...values };
  if (previousFarm && previousFarm !== farm && !(saved.sites || []).includes(previousFarm)) {
    // The old address needs no access any more (a required one cannot be given back).
    await chrome.permissions.remove({ origins: [farmOriginPattern(previousFarm)] }).catch(() => false);
  }
  const synced = await sync();
  await renderSites();
  let trouble = "";
  try {
    trouble = await check(apiBase, token);
  } catch (error) {
    trouble = "the farm could not be reached";
  }
  const notes = [];
  if (!values.recording) notes.push("Recording is off.");
  else if (synced && synced.ok && !synced.origins.length) notes.push("No site to record yet: allow one below.");
  const tail = notes.length ? ` ${notes.join(" ")}` : "";
  show(status, trouble ? `Saved, but ${trouble}.${tail}` : `Saved. Connected to the farm.${tail}`);
});

document.getElementById("allowSite").addEventListener("click", async () => {
  const origin = farmSiteOrigin(siteInput.value);
  if (!origin) {
    show(siteStatus, "Not allowed: enter the site's address, such as https://example.com.", "error");
    return;
  }
  if (farmOrigins().includes(origin)) {
    show(siteStatus, `Not allowed: ${origin} is the farm's own address, which is never recorded.`, "error");
    return;
  }
  let granted = false;
  try {
    granted = await chrome.permissions.request({ origins: [farmOriginPattern(origin)] });
  } catch (error) {
    show(siteStatus, `Not allowed: ${error && error.message ? error.message : error}`, "error");
    return;
  }
  if (!granted) {
    show(siteStatus, `Not allowed: Chrome did not grant access to ${origin}.`, "error");
    return;
  }
  const sites = (await chrome.storage.local.get("sites")).sites || [];
  if (!sites.includes(origin)) sites.push(origin);
  await chrome.storage.local.set({ sites });
  saved.sites = sites;
  await sync();
  siteInput.value = "";
  await renderSites();
  const off = saved.recording ? "" : " Recording is off: switch it on above.";
  show(siteStatus, `Allowed: ${origin}.${off}`);
});

async function removeSite(origin) {
  const sites = ((await chrome.storage.local.get("sites")).sites || []).filter((s) => s !== origin);
  await chrome.storage.local.set({ sites });
  saved.sites = sites;
  const farm = saved.apiBase ? farmOriginOf(saved.apiBase) : "";
  if (origin !== farm) {
    await chrome.permissions.remove({ origins: [farmOriginPattern(origin)] }).catch(() => false);
  }
  await sync();
  await renderSites();
  show(siteStatus, `Removed: ${origin}. It is no longer recorded.`);
}

load();
