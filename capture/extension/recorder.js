/*
 * The farm's recorder: one plain script, no build step, no dependency.
 *
 * It records navigate, click, input, scroll and submit events in the page it
 * runs in, each with its target element described for training web agents
 * (role and accessible name, attributes, bounding box, alternative selectors
 * with a robustness score, nearby interactive elements, a DOM snippet).
 *
 * Masking starts here: a password's value never leaves the page, and every
 * other input value is replaced by "•••" unless the field's name or id is in
 * the allow-list given to start().
 *
 * Used twice, unchanged: Selenium injects it into every publish run (CDP
 * Page.addScriptToEvaluateOnNewDocument) and drains it; the Manifest V3
 * extension runs it as a content script and hands what it drains to its
 * service worker. Injecting it twice into one document does nothing more.
 *
 * Every event says whether the DOM event behind it was trusted (made by the
 * browser from real input, not dispatched by a script). The extension starts
 * it with trustedOnly, so a page's synthetic events are not recorded at all,
 * and without persist, so nothing is kept in (or taken back from) the page's
 * own sessionStorage.
 *
 * API: window.__farmRecorder.start({allowList, sessionId, onEvent, trustedOnly, persist}),
 *      .drain() -> events since the last drain, .stop().
 */
(function () {
  "use strict";

  var VERSION = 2;
  if (window.__farmRecorder && window.__farmRecorder.version >= VERSION) {
    return;
  }

  var TEXT_CAP = 200;
  var NAME_CAP = 200;
  var ATTR_CAP = 300;
  var SNIPPET_CAP = 4096;
  var NEARBY_MAX = 5;
  var NEARBY_CANDIDATES_MAX = 400;
  var INPUT_DEBOUNCE_MS = 800;
  var SCROLL_THROTTLE_MS = 500;
  var DOM_CHANGE_WINDOW_MS = 3000;
  var BUFFER_MAX = 5000;
  var MASK = "\u2022\u2022\u2022";
  var STORAGE_KEY = "__farmRecorder.pending";

  var SCORES = { testid: 1.0, role: 0.9, label: 0.8, text: 0.7, id: 0.6, css: 0.4, xpath: 0.2 };
  // A selector that matches more than the target keeps a share of its score.
  var NOT_UNIQUE_FACTOR = 0.5;
  var TESTID_ATTRIBUTES = ["data-testid", "data-test-id", "data-test", "data-qa", "data-cy"];
  var ATTRIBUTE_WHITELIST = [
    "id", "name", "type", "role", "href", "src", "alt", "title", "placeholder",
    "aria-label", "aria-labelledby", "aria-describedby", "aria-expanded", "aria-checked",
    "aria-selected", "aria-haspopup", "aria-controls", "for", "action", "method",
    "autocomplete", "disabled", "readonly", "required", "checked", "multiple", "accept",
    "maxlength", "class", "data-testid", "data-test-id", "data-test", "data-qa", "data-cy"
  ];
  var INTERACTIVE =
    "a[href], button, input:not([type=hidden]), select, textarea, summary, label, " +
    "[role=button], [role=link], [role=checkbox], [role=radio], [role=tab], [role=menuitem], " +
    "[role=option], [role=switch], [role=textbox], [role=combobox], [role=searchbox], " +
    "[contenteditable=''], [contenteditable=true], [tabindex]:not([tabindex='-1'])";
  var CLICK_TARGET =
    "a[href], button, input, select, textarea, summary, label, option, " +
    "[role=button], [role=link], [role=checkbox], [role=radio], [role=tab], [role=menuitem], " +
    "[role=option], [role=switch], [onclick]";
  var TEXT_TARGET =
    "a, button, summary, label, option, [role=button], [role=link], [role=tab], " +
    "[role=menuitem], [role=option], input[type=submit], input[type=button], input[type=reset]";
  var BUTTON_INPUT_TYPES = { submit: 1, button: 1, reset: 1, image: 1 };
  var INPUT_ROLES = {
    button: "button", submit: "button", reset: "button", image: "button",
    checkbox: "checkbox", radio: "radio", range: "slider", number: "spinbutton",
    search: "searchbox", email: "textbox", tel: "textbox", text: "textbox", url: "textbox",
    password: "textbox", file: "button"
  };
  var TAG_ROLES = {
    button: "button", textarea: "textbox", form: "form", img: "img", nav: "navigation",
    main: "main", header: "banner", footer: "contentinfo", aside: "complementary",
    ul: "list", ol: "list", li: "listitem", table: "table", tr: "row", td: "cell",
    th: "columnheader", option: "option", h1: "heading", h2: "heading", h3: "heading",
    h4: "heading", h5: "heading", h6: "heading", dialog: "dialog", summary: "button",
    progress: "progressbar", hr: "separator"
  };
  // Elements that may carry each role, so uniqueness checks look only at them.
  var ROLE_CANDIDATES = {
    button: "button, summary, input[type=submit], input[type=button], input[type=reset], input[type=image], input[type=file]",
    link: "a[href], area[href]",
    textbox: "textarea, input:not([type]), input[type=text], input[type=email], input[type=tel], input[type=url], input[type=password]",
    searchbox: "input[type=search]",
    checkbox: "input[type=checkbox]",
    radio: "input[type=radio]",
    combobox: "select",
    listbox: "select[multiple], select[size]",
    slider: "input[type=range]",
    spinbutton: "input[type=number]",
    img: "img",
    option: "option",
    heading: "h1, h2, h3, h4, h5, h6",
    form: "form"
  };

  // ---- State ---------------------------------------------------------------

  var state = {
    started: false,
    stopped: false,
    sessionId: null,
    allow: {},
    trustedOnly: false, // ignore every DOM event a script made (the extension)
    persist: true, // keep undrained events in sessionStorage across a page change (publish runs)
    onEvent: null,
    sequence: 0,
    buffer: [],
    pendingInputs: [], // [{el, timer}]
    lastValues: new WeakMap(),
    scrollTimer: null,
    scrollTarget: null,
    scrollTrusted: true,
    lastScrollAt: 0,
    lastClick: null,
    observer: null,
    listeners: []
  };

  // ---- Text and names --------------------------------------------------------

  function clean(text, cap) {
    if (text == null) return "";
    var out = String(text).replace(/\s+/g, " ").trim();
    return out.length > cap ? out.slice(0, cap - 1) + "\u2026" : out;
  }

  function tagOf(el) {
    return el && el.tagName ? el.tagName.toLowerCase() : "";
  }

  function inputType(el) {
    return tagOf(el) === "input" ? (el.getAttribute("type") || "text").toLowerCase() : "";
  }

  function isPassword(el) {
    if (tagOf(el) !== "input") return false;
    var auto = (el.getAttribute("autocomplete") || "").toLowerCase();
    return inputType(el) === "password" || auto === "current-password" || auto === "new-password";
  }

  function isEditable(el) {
    return el && (el.isContentEditable === true);
  }

  // Text a person sees on the element; never a form control's value.
  function visibleText(el) {
    var tag = tagOf(el);
    if (tag === "input") {
      return BUTTON_INPUT_TYPES[inputType(el)] ? clean(el.getAttribute("value") || el.getAttribute("alt"), TEXT_CAP) : "";
    }
    if (tag === "textarea" || tag === "select" || isEditable(el)) return "";
    var text = el.innerText;
    if (text == null) text = el.textContent;
    return clean(text, TEXT_CAP);
  }

  // Text of an element for use inside a name: form controls inside it count by their label, not value.
  function textWithoutValues(el) {
    if (!el) return "";
    if (el.nodeType === 3) return el.nodeValue;
    if (el.nodeType !== 1) return "";
    var tag = tagOf(el);
    if (tag === "input" || tag === "textarea" || tag === "select" || tag === "script" || tag === "style") {
      return tag === "input" && BUTTON_INPUT_TYPES[inputType(el)] ? " " + (el.getAttribute("value") || "") + " " : " ";
    }
    var out = "";
    for (var child = el.firstChild; child; child = child.nextSibling) out += textWithoutValues(child);
    return out;
  }

  function roleOf(el) {
    var explicit = (el.getAttribute("role") || "").trim().split(/\s+/)[0];
    if (explicit) return explicit.toLowerCase();
    var tag = tagOf(el);
    if (tag === "a" || tag === "area") return el.hasAttribute("href") ? "link" : "";
    if (tag === "input") return INPUT_ROLES[inputType(el)] || (inputType(el) === "hidden" ? "" : "textbox");
    if (tag === "select") return el.multiple || el.size > 1 ? "listbox" : "combobox";
    if (tag === "section" && (el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby"))) return "region";
    if (isEditable(el)) return "textbox";
    return TAG_ROLES[tag] || "";
  }

  function labelsOf(el) {
    var found = [];
    if (el.labels && el.labels.length) {
      for (var i = 0; i < el.labels.length; i++) found.push(el.labels[i]);
      return found;
    }
    var id = el.getAttribute && el.getAttribute("id");
    if (id) {
      try {
        var byFor = document.querySelectorAll('label[for="' + cssString(id) + '"]');
        for (var j = 0; j < byFor.length; j++) found.push(byFor[j]);
      } catch (e) { /* an id no selector can name */ }
    }
    var wrapping = el.closest && el.closest("label");
    if (wrapping && found.indexOf(wrapping) < 0) found.push(wrapping);
    return found;
  }

  function labelText(el) {
    var labels = labelsOf(el);
    var parts = [];
    for (var i = 0; i < labels.length; i++) parts.push(textWithoutValues(labels[i]));
    return clean(parts.join(" "), NAME_CAP);
  }

  // The accessible name, in the order browsers compute it (simplified).
  function accessibleName(el) {
    var ids = el.getAttribute("aria-labelledby");
    if (ids) {
      var parts = [];
      ids.split(/\s+/).forEach(function (id) {
        var ref = id && document.getElementById(id);
        if (ref) parts.push(textWithoutValues(ref));
      });
      var byIds = clean(parts.join(" "), NAME_CAP);
      if (byIds) return byIds;
    }
    var aria = clean(el.getAttribute("aria-label"), NAME_CAP);
    if (aria) return aria;
    var tag = tagOf(el);
    var type = inputType(el);
    if (tag === "input" || tag === "textarea" || tag === "select" || tag === "meter" || tag === "progress") {
      var byLabel = labelText(el);
      if (byLabel) return byLabel;
    }
    if (tag === "img" || type === "image" || tag === "area") {
      var alt = clean(el.getAttribute("alt"), NAME_CAP);
      if (alt) return alt;
    }
    if (tag === "input" && BUTTON_INPUT_TYPES[type]) {
      var label = clean(el.getAttribute("value"), NAME_CAP);
      if (label) return label;
      if (type === "submit") return "Submit";
      if (type === "reset") return "Reset";
    }
    var role = roleOf(el);
    var fromContent = { button: 1, link: 1, tab: 1, menuitem: 1, option: 1, checkbox: 1, radio: 1,
      heading: 1, cell: 1, columnheader: 1, listitem: 1, switch: 1 };
    if (fromContent[role] || tag === "label" || tag === "summary") {
      var text = clean(textWithoutValues(el), NAME_CAP);
      if (text) return text;
    }
    var title = clean(el.getAttribute("title"), NAME_CAP);
    if (title) return title;
    if (tag === "input" || tag === "textarea") {
      var placeholder = clean(el.getAttribute("placeholder"), NAME_CAP);
      if (placeholder) return placeholder;
    }
    return "";
  }

  // ---- Selectors -------------------------------------------------------------

  function cssString(value) {
    return String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  }

  function cssIdent(value) {
    if (window.CSS && window.CSS.escape) return window.CSS.escape(value);
    return String(value).replace(/[^a-zA-Z0-9_-]/g, function (c) { return "\\" + c; });
  }

  function countCss(selector) {
    try {
      return document.querySelectorAll(selector).length;
    } catch (e) {
      return -1;
    }
  }

  function countXPath(path) {
    try {
      return document.evaluate("count(" + path + ")", document, null, XPathResult.NUMBER_TYPE, null).numberValue;
    } catch (e) {
      return -1;
    }
  }

  function selector(kind, value, count) {
    var unique = count === 1;
    var score = unique ? SCORES[kind] : Math.round(SCORES[kind] * NOT_UNIQUE_FACTOR * 100) / 100;
    return { kind: kind, value: value, score: score, unique: unique };
  }

  function countMatching(candidates, test) {
    var list;
    try {
      list = document.querySelectorAll(candidates);
    } catch (e) {
      return -1;
    }
    var n = 0;
    for (var i = 0; i < list.length; i++) {
      if (test(list[i])) n++;
    }
    return n;
  }

  // Generated ids (React's ":r1:", "ember123", long hex) change between page loads.
  function stableId(id) {
    if (!id || id.length > 64) return false;
    if (/^:.*:$/.test(id) || /^(ember|ext-gen|yui_|react-|mui-)\d/.test(id)) return false;
    if (/[0-9a-f]{8,}/i.test(id) || /\d{4,}/.test(id)) return false;
    return true;
  }

  function cssStep(el) {
    var tag = tagOf(el);
    var parent = el.parentElement;
    if (!parent) return tag;
    var same = 0;
    var index = 0;
    for (var child = parent.firstElementChild; child; child = child.nextElementSibling) {
      if (child.tagName === el.tagName) {
        same++;
        if (child === el) index = same;
      }
    }
    return same > 1 ? tag + ":nth-of-type(" + index + ")" : tag;
  }

  // The shortest "a > b > c" path, from the target up, that names only the target.
  function cssPath(el) {
    var steps = [];
    var node = el;
    while (node && node.nodeType === 1) {
      var id = node.getAttribute("id");
      if (node !== el && id && stableId(id) && countCss("#" + cssIdent(id)) === 1) {
        steps.unshift("#" + cssIdent(id));
        break;
      }
      steps.unshift(cssStep(node));
      var path = steps.join(" > ");
      if (countCss(path) === 1) return path;
      if (tagOf(node) === "html") break;
      node = node.parentElement;
    }
    return steps.join(" > ");
  }

  function xPath(el) {
    var steps = [];
    for (var node = el; node && node.nodeType === 1; node = node.parentNode) {
      var tag = tagOf(node);
      var same = 0;
      var index = 0;
      var parent = node.parentNode;
      if (parent && parent.children) {
        for (var i = 0; i < parent.children.length; i++) {
          var child = parent.children[i];
          if (child.tagName === node.tagName) {
            same++;
            if (child === node) index = same;
          }
        }
      }
      steps.unshift(same > 1 ? tag + "[" + index + "]" : tag);
    }
    return "/" + steps.join("/");
  }

  function quoteValue(value) {
    return '"' + String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function selectorsFor(el) {
    var out = [];
    var tag = tagOf(el);
    for (var i = 0; i < TESTID_ATTRIBUTES.length; i++) {
      var attr = TESTID_ATTRIBUTES[i];
      var testid = el.getAttribute(attr);
      if (testid) {
        var css = "[" + attr + '="' + cssString(testid) + '"]';
        out.push(selector("testid", css, countCss(css)));
        break;
      }
    }
    var role = roleOf(el);
    var name = accessibleName(el);
    if (role && name && role !== "generic") {
      // The target's own tag is always a candidate, so an implicit role counts itself.
      var candidates = tag + ", " + (ROLE_CANDIDATES[role] ? ROLE_CANDIDATES[role] + ", " : "") +
        '[role="' + role + '"]';
      out.push(selector(
        "role",
        "role=" + role + "[name=" + quoteValue(name) + "]",
        countMatching(candidates, function (c) { return roleOf(c) === role && accessibleName(c) === name; })
      ));
    }
    if (tag === "input" || tag === "textarea" || tag === "select") {
      var label = labelText(el);
      if (label) {
        out.push(selector(
          "label",
          "label=" + quoteValue(label),
          countMatching("input, textarea, select", function (c) { return labelText(c) === label; })
        ));
      }
    }
    var text = visibleText(el);
    if (text && text.length <= 60 && el.matches && el.matches(TEXT_TARGET)) {
      out.push(selector(
        "text",
        "text=" + quoteValue(text),
        countMatching(TEXT_TARGET, function (c) { return visibleText(c) === text; })
      ));
    }
    var id = el.getAttribute("id");
    if (id && stableId(id)) {
      var idCss = "#" + cssIdent(id);
      out.push(selector("id", idCss, countCss(idCss)));
    }
    var path = cssPath(el);
    out.push(selector("css", path, countCss(path)));
    var xp = xPath(el);
    out.push(selector("xpath", xp, countXPath(xp)));
    out.sort(function (a, b) { return b.score - a.score; });
    return out;
  }

  // ---- Target description ----------------------------------------------------

  function attributesOf(el) {
    var out = {};
    for (var i = 0; i < ATTRIBUTE_WHITELIST.length; i++) {
      var name = ATTRIBUTE_WHITELIST[i];
      if (el.hasAttribute(name)) out[name] = clean(el.getAttribute(name), ATTR_CAP);
    }
    // A button's value is its label; any other value is what someone typed.
    if (tagOf(el) === "input" && BUTTON_INPUT_TYPES[inputType(el)] && el.hasAttribute("value")) {
      out.value = clean(el.getAttribute("value"), ATTR_CAP);
    }
    return out;
  }

  function bboxOf(el) {
    var r = el.getBoundingClientRect();
    return { x: Math.round(r.left), y: Math.round(r.top), width: Math.round(r.width), height: Math.round(r.height) };
  }

  function visible(el) {
    if (!el.isConnected) return false;
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    var style = window.getComputedStyle(el);
    return style.visibility !== "hidden" && style.display !== "none";
  }

  function nearbyOf(el) {
    if (!el.isConnected) return [];
    var box = el.getBoundingClientRect();
    var cx = box.left + box.width / 2;
    var cy = box.top + box.height / 2;
    var list;
    try {
      list = document.querySelectorAll(INTERACTIVE);
    } catch (e) {
      return [];
    }
    var scored = [];
    for (var i = 0; i < list.length && i < NEARBY_CANDIDATES_MAX; i++) {
      var c = list[i];
      if (c === el || c.contains(el) || el.contains(c) || !visible(c)) continue;
      var r = c.getBoundingClientRect();
      var dx = r.left + r.width / 2 - cx;
      var dy = r.top + r.height / 2 - cy;
      scored.push({ el: c, d: dx * dx + dy * dy });
    }
    scored.sort(function (a, b) { return a.d - b.d; });
    return scored.slice(0, NEARBY_MAX).map(function (item) {
      var n = item.el;
      return {
        tag: tagOf(n),
        text: visibleText(n),
        role: roleOf(n),
        name: accessibleName(n),
        attributes: attributesOf(n),
        bbox: bboxOf(n),
        selectors: selectorsFor(n).slice(0, 3)
      };
    });
  }

  // Copies of form controls lose what was typed: no value attribute, no textarea text.
  function stripValues(root) {
    var controls = [];
    if (root.matches && root.matches("input, textarea, select, option")) controls.push(root);
    var inner = root.querySelectorAll ? root.querySelectorAll("input, textarea, select, option, script, style, [contenteditable]") : [];
    for (var i = 0; i < inner.length; i++) controls.push(inner[i]);
    controls.forEach(function (c) {
      var tag = tagOf(c);
      if (tag === "script" || tag === "style") {
        c.textContent = "";
      } else if (tag === "input") {
        if (!BUTTON_INPUT_TYPES[inputType(c)]) c.removeAttribute("value");
        c.removeAttribute("checked");
      } else if (tag === "textarea") {
        c.textContent = "";
      } else if (tag === "option") {
        c.removeAttribute("selected");
      } else if (c.isContentEditable || c.hasAttribute("contenteditable")) {
        c.textContent = "";
      }
    });
    return root;
  }

  function snippetOf(el) {
    var candidates = [];
    var form = el.closest && el.closest("form");
    if (form) candidates.push(form);
    candidates.push(el);
    for (var i = 0; i < candidates.length; i++) {
      var html = stripValues(candidates[i].cloneNode(true)).outerHTML || "";
      if (html.length <= SNIPPET_CAP) return html;
      if (i === candidates.length - 1) return html.slice(0, SNIPPET_CAP - 1) + "\u2026";
    }
    return "";
  }

  function describe(el, withNearby) {
    var target = {
      tag: tagOf(el),
      text: visibleText(el),
      role: roleOf(el),
      name: accessibleName(el),
      attributes: attributesOf(el),
      bbox: bboxOf(el),
      selectors: selectorsFor(el),
      nearby: withNearby ? nearbyOf(el) : [],
      dom_snippet: snippetOf(el)
    };
    return target;
  }

  // ---- Values and masking ----------------------------------------------------

  function allowed(el) {
    var name = el.getAttribute && el.getAttribute("name");
    var id = el.getAttribute && el.getAttribute("id");
    return Boolean((name && state.allow[name]) || (id && state.allow[id]));
  }

  function rawValue(el) {
    var tag = tagOf(el);
    if (tag === "select") {
      var picked = [];
      for (var i = 0; i < el.options.length; i++) {
        if (el.options[i].selected) picked.push(el.options[i].value);
      }
      return picked.join(",");
    }
    if (isEditable(el) && tag !== "input" && tag !== "textarea") return el.innerText || "";
    return el.value == null ? "" : String(el.value);
  }

  // {value, masked, masked_kinds} for a form control, masked before it leaves this function.
  function maskedValue(el) {
    if (isPassword(el)) return { value: null, masked: true, masked_kinds: ["password"] };
    var type = inputType(el);
    if (type === "checkbox" || type === "radio") {
      return { value: el.checked ? "checked" : "unchecked", masked: false, masked_kinds: [] };
    }
    var value = rawValue(el);
    if (value === "") return { value: "", masked: false, masked_kinds: [] };
    if (allowed(el)) return { value: value, masked: false, masked_kinds: [] };
    return { value: MASK, masked: true, masked_kinds: ["input"] };
  }

  // ---- Events ----------------------------------------------------------------

  function nextSequence() {
    var n = state.sequence;
    state.sequence += 1;
    return n;
  }

  function push(kind, el, extra) {
    if (!state.started || state.stopped) return null;
    var event = {
      sequence: nextSequence(),
      timestamp_ms: Date.now(),
      kind: kind,
      url: String(location.href),
      title: clean(document.title, 500),
      value: null,
      masked: false,
      masked_kinds: [],
      target: null,
      scroll: null,
      found_in_dom: null,
      trusted: true
    };
    if (el) {
      try {
        event.target = describe(el, kind !== "scroll");
      } catch (e) {
        event.target = { tag: tagOf(el), selectors: [] };
      }
      event.found_in_dom = Boolean(el.isConnected);
    }
    if (extra) {
      for (var key in extra) {
        if (Object.prototype.hasOwnProperty.call(extra, key)) event[key] = extra[key];
      }
    }
    if (state.buffer.length >= BUFFER_MAX) state.buffer.shift();
    state.buffer.push(event);
    if (state.onEvent) {
      try {
        state.onEvent(event);
      } catch (e) { /* a consumer's trouble is not the page's */ }
    }
    return event;
  }

  function record(kind, el, extra) {
    try {
      return push(kind, el, extra);
    } catch (e) {
      return null;
    }
  }

  function clickTarget(node) {
    var el = node && node.nodeType === 1 ? node : node && node.parentElement;
    if (!el) return null;
    var interactive = el.closest ? el.closest(CLICK_TARGET) : null;
    return interactive || el;
  }

  // A submit is trusted even when a script called form.requestSubmit() or a
  // button's click(); only one that follows real input comes with the page's
  // transient user activation.
  function userActivated() {
    var activation = navigator.userActivation;
    return activation ? Boolean(activation.isActive) : true;
  }

  function onClick(e) {
    var el = clickTarget(e.composedPath ? e.composedPath()[0] : e.target);
    if (!el) return;
    // A submit button's click is followed by a submit event; both are kept, as a person did both.
    flushInputs();
    var event = record("click", el, { dom_changed: false, trusted: e.isTrusted });
    if (event) state.lastClick = event;
  }

  function recordInput(el, trusted) {
    if (!el) return;
    var tag = tagOf(el);
    if (tag === "input" && inputType(el) === "hidden") return;
    var masked = maskedValue(el);
    // Keyed on what was typed, so the same value is not recorded twice (input, then change, then blur).
    var key = rawValue(el) + (el.checked ? "\u0001" : "");
    if (state.lastValues.get(el) === key) return;
    state.lastValues.set(el, key);
    masked.trusted = trusted;
    record("input", el, masked);
  }

  function pendingFor(el) {
    for (var i = 0; i < state.pendingInputs.length; i++) {
      if (state.pendingInputs[i].el === el) return state.pendingInputs[i];
    }
    return null;
  }

  function cancelPending(el) {
    for (var i = state.pendingInputs.length - 1; i >= 0; i--) {
      if (state.pendingInputs[i].el === el) {
        clearTimeout(state.pendingInputs[i].timer);
        state.pendingInputs.splice(i, 1);
      }
    }
  }

  function flushInputs() {
    var pending = state.pendingInputs.splice(0);
    pending.forEach(function (p) {
      clearTimeout(p.timer);
      recordInput(p.el, p.trusted);
    });
  }

  function inputElement(e) {
    var el = e.composedPath ? e.composedPath()[0] : e.target;
    if (!el || el.nodeType !== 1) return null;
    var tag = tagOf(el);
    if (tag === "input" || tag === "textarea" || tag === "select") return el;
    if (el.isContentEditable) {
      var host = el;
      while (host.parentElement && host.parentElement.isContentEditable) host = host.parentElement;
      return host;
    }
    return null;
  }

  function onInput(e) {
    var el = inputElement(e);
    if (!el) return;
    var type = inputType(el);
    if (tagOf(el) === "select" || type === "checkbox" || type === "radio" || type === "file") {
      cancelPending(el);
      recordInput(el, e.isTrusted);
      return;
    }
    // One edit is trusted when every keystroke of it was.
    var before = pendingFor(el);
    var entry = { el: el, timer: null, trusted: e.isTrusted && (!before || before.trusted) };
    cancelPending(el);
    entry.timer = setTimeout(function () {
      var at = state.pendingInputs.indexOf(entry);
      if (at >= 0) state.pendingInputs.splice(at, 1);
      recordInput(el, entry.trusted);
    }, INPUT_DEBOUNCE_MS);
    state.pendingInputs.push(entry);
  }

  function onChangeOrBlur(e) {
    var el = inputElement(e);
    if (!el) return;
    var pending = pendingFor(el);
    cancelPending(el);
    // A blur without an edit says nothing; a change always does.
    if (e.type === "change") {
      recordInput(el, e.isTrusted && (!pending || pending.trusted));
    } else if (pending) {
      recordInput(el, pending.trusted);
    }
  }

  function onSubmit(e) {
    var form = e.target;
    if (!form || tagOf(form) !== "form") return;
    var trusted = e.isTrusted && userActivated();
    if (state.trustedOnly && !trusted) return;
    flushInputs();
    record("submit", form, { trusted: trusted });
    // The page may go away now: keep what was not drained for the next page.
    persist();
  }

  function onScroll(e) {
    var target = e.target;
    state.scrollTarget = target === document || target === window ? null : target;
    state.scrollTrusted = state.scrollTrusted && e.isTrusted;
    var now = Date.now();
    var wait = SCROLL_THROTTLE_MS - (now - state.lastScrollAt);
    if (state.scrollTimer) return;
    state.scrollTimer = setTimeout(function () {
      state.scrollTimer = null;
      state.lastScrollAt = Date.now();
      var el = state.scrollTarget;
      var x = el ? el.scrollLeft : window.scrollX;
      var y = el ? el.scrollTop : window.scrollY;
      var trusted = state.scrollTrusted;
      state.scrollTrusted = true;
      record("scroll", el, { scroll: { x: Math.round(x), y: Math.round(y) }, trusted: trusted });
    }, Math.max(wait, 0));
  }

  function onNavigate(e) {
    record("navigate", null, { trusted: e.isTrusted });
  }

  function onMutation() {
    var click = state.lastClick;
    if (click && !click.dom_changed && Date.now() - click.timestamp_ms <= DOM_CHANGE_WINDOW_MS) {
      // Still in the buffer (not drained yet): the click made the page react.
      click.dom_changed = true;
    }
  }

  // ---- Keeping events across a page change ------------------------------------

  function storage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null;
    }
  }

  function persist() {
    var store = state.persist ? storage() : null;
    if (!store) return;
    try {
      store.setItem(STORAGE_KEY, JSON.stringify({
        sessionId: state.sessionId,
        sequence: state.sequence,
        events: state.buffer
      }));
    } catch (e) { /* full or forbidden: the events stay in memory only */ }
  }

  function restore() {
    var store = state.persist ? storage() : null;
    if (!store) return;
    try {
      var raw = store.getItem(STORAGE_KEY);
      if (!raw) return;
      store.removeItem(STORAGE_KEY);
      var saved = JSON.parse(raw);
      if (!saved || saved.sessionId !== state.sessionId) return;
      state.sequence = Math.max(state.sequence, saved.sequence || 0);
      var events = Array.isArray(saved.events) ? saved.events : [];
      state.buffer = events.concat(state.buffer);
    } catch (e) { /* a broken entry is dropped */ }
  }

  function clearPersisted() {
    var store = state.persist ? storage() : null;
    if (!store) return;
    try {
      store.removeItem(STORAGE_KEY);
    } catch (e) { /* nothing to clear */ }
  }

  function onPageHide() {
    flushInputs();
    persist();
  }

  // ---- Wiring -----------------------------------------------------------------

  function listen(target, type, handler) {
    var wrapped = function (e) {
      // A script's dispatchEvent() or element.click() makes an untrusted event.
      if (state.trustedOnly && !e.isTrusted) return;
      try {
        handler(e);
      } catch (err) { /* never break the page */ }
    };
    target.addEventListener(type, wrapped, true);
    state.listeners.push([target, type, wrapped]);
  }

  function wrapHistory() {
    ["pushState", "replaceState"].forEach(function (method) {
      var original = history[method];
      if (!original || original.__farmWrapped) return;
      var wrapped = function () {
        var before = location.href;
        var result = original.apply(this, arguments);
        if (state.started && !state.stopped && location.href !== before) record("navigate", null);
        return result;
      };
      wrapped.__farmWrapped = true;
      history[method] = wrapped;
    });
  }

  function whenReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn, { once: true });
    } else {
      fn();
    }
  }

  function start(options) {
    options = options || {};
    var list = options.allowList || [];
    state.allow = {};
    for (var i = 0; i < list.length; i++) state.allow[String(list[i])] = true;
    if (options.onEvent) state.onEvent = options.onEvent;
    state.trustedOnly = Boolean(options.trustedOnly);
    state.persist = options.persist !== false;
    var sessionId = options.sessionId == null ? null : String(options.sessionId);
    if (state.started && !state.stopped && sessionId === state.sessionId) return api;
    if (state.started) stop();
    if (sessionId !== state.sessionId) {
      // Another session from here on: what the last one left is not its to keep.
      state.buffer = [];
      state.sequence = 0;
      state.lastClick = null;
    }
    state.sessionId = sessionId;
    state.started = true;
    state.stopped = false;
    restore();
    listen(document, "click", onClick);
    listen(document, "input", onInput);
    listen(document, "change", onChangeOrBlur);
    listen(document, "blur", onChangeOrBlur);
    listen(document, "submit", onSubmit);
    listen(document, "scroll", onScroll);
    listen(window, "pagehide", onPageHide);
    listen(window, "popstate", onNavigate);
    listen(window, "hashchange", onNavigate);
    wrapHistory();
    whenReady(function () {
      if (state.stopped) return;
      record("navigate", null);
      try {
        state.observer = new MutationObserver(onMutation);
        state.observer.observe(document.documentElement, {
          childList: true, subtree: true, attributes: true, characterData: true
        });
      } catch (e) { /* no observer: dead-click detection falls back to the server's */ }
    });
    return api;
  }

  function drain() {
    flushInputs();
    var events = state.buffer;
    state.buffer = [];
    clearPersisted();
    return events;
  }

  function stop() {
    flushInputs();
    state.stopped = true;
    state.started = false;
    state.listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2], true); });
    state.listeners = [];
    if (state.observer) state.observer.disconnect();
    if (state.scrollTimer) clearTimeout(state.scrollTimer);
    state.scrollTimer = null;
    return api;
  }

  var api = {
    version: VERSION,
    start: start,
    drain: drain,
    stop: stop,
    // For tests and consumers that want to describe an element the same way.
    describe: function (el) { return describe(el, true); },
    get started() { return state.started && !state.stopped; },
    get pending() { return state.buffer.length; }
  };

  try {
    Object.defineProperty(window, "__farmRecorder", { value: api, configurable: true, writable: false });
  } catch (e) {
    window.__farmRecorder = api;
  }
})();
