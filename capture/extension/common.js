/*
 * Helpers shared by the options page and the service worker (never loaded
 * into web pages): which farm addresses are acceptable, and origins.
 */
"use strict";

// Plain http is for the farm on this machine only; anywhere else the token
// would cross the network in the clear.
const FARM_LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"];

function farmParseUrl(value) {
  try {
    return new URL(String(value));
  } catch (e) {
    return null;
  }
}

// The origin ("https://example.com:8443") of an http(s) address, or "".
function farmOriginOf(value) {
  const url = farmParseUrl(value);
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return "";
  return url.origin;
}

// Why an address cannot be the farm's API base, or "" when it can.
function farmApiBaseProblem(value) {
  const url = farmParseUrl(value);
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    return "The farm's address must be a full https:// address, such as https://farm.example.com.";
  }
  if (url.username || url.password) {
    return "The farm's address must not hold a user name or password.";
  }
  if (url.protocol === "http:" && !FARM_LOOPBACK_HOSTS.includes(url.hostname.toLowerCase())) {
    return (
      "The farm's address must start with https:// (plain http:// only for 127.0.0.1, " +
      "localhost or [::1]): the ingest token would otherwise cross the network unencrypted."
    );
  }
  return "";
}

// The address as stored: no query, no fragment, no trailing slash.
function farmApiBaseNormal(value) {
  const url = farmParseUrl(value);
  return url ? (url.origin + url.pathname).replace(/\/+$/, "") : "";
}

// A site the person typed ("example.com", "https://example.com/page") as an origin, or "".
function farmSiteOrigin(value) {
  let text = String(value || "").trim();
  if (!text) return "";
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `https://${text}`;
  return farmOriginOf(text);
}

// The match pattern that grants one origin: "https://example.com/*".
function farmOriginPattern(origin) {
  return `${origin}/*`;
}
