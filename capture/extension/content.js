/*
 * The extension's content script: runs recorder.js (loaded just before it, in
 * this same isolated world) and hands what it records to the background
 * service worker in small batches. Clicks and submits go out at once, since
 * the page may be about to leave; anything still unsent when the page goes is
 * kept by the recorder in sessionStorage and sent from the next page.
 */
(function () {
  "use strict";

  if (window.__farmRecorderContent) return;
  window.__farmRecorderContent = true;

  var recorder = window.__farmRecorder;
  var FLUSH_MS = 300;
  var timer = null;
  var enabled = true;

  function page() {
    return {
      url: String(location.href),
      title: document.title,
      viewport: { width: window.innerWidth, height: window.innerHeight },
      user_agent: navigator.userAgent
    };
  }

  function flush() {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (!enabled) return;
    var events = recorder.drain();
    if (!events.length) return;
    try {
      chrome.runtime.sendMessage({ type: "farm-events", events: events, page: page() }, function () {
        // No receiver (the worker restarting) is not an error worth a console line.
        void chrome.runtime.lastError;
      });
    } catch (e) {
      // The extension was reloaded under this page: nothing can take the events any more.
      enabled = false;
      recorder.stop();
    }
  }

  function onEvent(event) {
    if (event.kind === "click" || event.kind === "submit") {
      // A microtask runs before any navigation the click or submit starts.
      Promise.resolve().then(flush);
    } else if (!timer) {
      timer = setTimeout(flush, FLUSH_MS);
    }
  }

  recorder.start({ sessionId: "extension", allowList: [], onEvent: onEvent });

  chrome.storage.local.get(["apiBase", "token", "allowList", "paused"], function (config) {
    if (!config || !config.apiBase || !config.token || config.paused) {
      // Not set up, or paused: record nothing and keep nothing.
      enabled = false;
      recorder.stop();
      recorder.drain();
      return;
    }
    recorder.start({
      sessionId: "extension",
      allowList: Array.isArray(config.allowList) ? config.allowList : [],
      onEvent: onEvent
    });
    flush();
  });

  window.addEventListener("pagehide", function () {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
  }, true);
})();
