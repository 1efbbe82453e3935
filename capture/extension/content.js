/*
 * The extension's content script: runs recorder.js (loaded just before it, in
 * this same isolated world) and hands what it records to the background
 * service worker by runtime messaging, in small batches.
 *
 * The service worker registers this script only on the sites the person
 * opted into, and only while recording is on. It reads no storage: the
 * settings (the farm's address, the token) are out of a content script's
 * reach, and the worker tells it whether to record and which fields may keep
 * their values. The recorder takes only trusted DOM events (a page's
 * dispatchEvent() or element.click() records nothing) and keeps nothing in the
 * page's sessionStorage: what it holds when the page goes is sent on
 * pagehide, and the buffer between pages is the worker's.
 */
(function () {
  "use strict";

  if (window.__farmRecorderContent) return;
  window.__farmRecorderContent = true;

  var recorder = window.__farmRecorder;
  var FLUSH_MS = 300;
  var timer = null;
  var enabled = true; // until the worker says otherwise
  var ready = false; // the worker has answered

  function viewport() {
    return { width: window.innerWidth, height: window.innerHeight };
  }

  function stopAll() {
    enabled = false;
    recorder.stop();
    recorder.drain();
  }

  function send(message) {
    try {
      chrome.runtime.sendMessage(message, function (answer) {
        // No receiver (the worker restarting) is not an error worth a console line.
        void chrome.runtime.lastError;
        // Recording was switched off, or the site removed, since this page opened.
        if (answer && answer.record === false) stopAll();
      });
    } catch (e) {
      // The extension was reloaded under this page: nothing can take the events any more.
      enabled = false;
      recorder.stop();
    }
  }

  function flush() {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (!enabled || !ready) return;
    var events = recorder.drain();
    if (!events.length) return;
    send({ type: "farm-events", events: events, viewport: viewport() });
  }

  function onEvent(event) {
    if (event.kind === "click" || event.kind === "submit") {
      // A microtask runs before any navigation the click or submit starts.
      Promise.resolve().then(flush);
    } else if (!timer) {
      timer = setTimeout(flush, FLUSH_MS);
    }
  }

  // Recording starts at once (the first events of a page come early); they
  // wait here until the worker has said this page may be recorded.
  var options = { sessionId: "extension", allowList: [], onEvent: onEvent, trustedOnly: true, persist: false };
  recorder.start(options);

  try {
    chrome.runtime.sendMessage({ type: "farm-hello" }, function (answer) {
      void chrome.runtime.lastError;
      if (!answer || !answer.record) {
        // Recording off, not set up, or not a site the person opted into.
        stopAll();
        return;
      }
      ready = true;
      options.allowList = Array.isArray(answer.allowList) ? answer.allowList : [];
      recorder.start(options);
      flush();
    });
  } catch (e) {
    stopAll();
  }

  // The page is going: what it still holds goes to the worker now.
  window.addEventListener("pagehide", function (e) {
    if (e.isTrusted) flush();
  }, true);
})();
