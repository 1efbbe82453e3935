"use strict";

const FIELDS = ["apiBase", "token", "allowList", "task", "idleMinutes", "paused"];
const form = document.getElementById("options");
const status = document.getElementById("status");

function show(text) {
  status.textContent = text;
  status.dataset.state = text;
}

chrome.storage.local.get(FIELDS).then((saved) => {
  form.apiBase.value = saved.apiBase || "";
  form.token.value = saved.token || "";
  form.allowList.value = (saved.allowList || []).join(", ");
  form.task.value = saved.task || "";
  form.idleMinutes.value = saved.idleMinutes || 5;
  form.paused.checked = Boolean(saved.paused);
});

async function check(apiBase, token) {
  // A cheap authenticated read tells a wrong address or token from a good one.
  const response = await fetch(`${apiBase}/api/v1/capture/sessions/?page_size=1`, {
    headers: { Authorization: `Capture ${token}` }
  });
  if (response.status === 401 || response.status === 403) return "the token was refused";
  if (!response.ok) return `the farm answered HTTP ${response.status}`;
  return "";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const apiBase = form.apiBase.value.trim().replace(/\/+$/, "");
  const token = form.token.value.trim();
  const allowList = form.allowList.value.split(",").map((s) => s.trim()).filter(Boolean);
  await chrome.storage.local.set({
    apiBase,
    token,
    allowList,
    task: form.task.value.trim(),
    idleMinutes: Math.max(parseFloat(form.idleMinutes.value) || 5, 0.1),
    paused: form.paused.checked
  });
  let problem = "";
  try {
    problem = await check(apiBase, token);
  } catch (error) {
    problem = "the farm could not be reached";
  }
  show(problem ? `Saved, but ${problem}.` : "Saved. Connected to the farm.");
});
