"""Server-side masking of personal data in captured events.

The page already withholds passwords and masks input values; this is the
second line: whatever still reaches the server (texts, titles, URLs,
attributes, DOM snippets, allowed input values) is scanned for e-mail
addresses, phone numbers, Luhn-valid card numbers, IBANs, national ids
(US SSN, UK NINO) and IP addresses, each replaced by a placeholder.

Patterns run in a fixed order (most specific first) so that, say, a card
number is not half-eaten by the phone pattern. Loopback addresses are left
alone: they name the machine, not a person, and the sandbox runs there.

Masking takes time linear in the text, whatever a page sends: every
repetition in the patterns has an upper bound (a domain label 63
characters, an IPv6 label 64, a phone number's groups), and lookaheads cut
short what backtracking would try in vain, so the work begun at any one
position is bounded. E-mail addresses are looked for from their anchors
(`@`, `%40`, `(at)`, `[at]`): a bounded domain right after one, then at most
64 local-part characters right before it.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

EMAIL = "email"
PHONE = "phone"
CARD = "card"
IBAN = "iban"
NATIONAL_ID = "national_id"
IP = "ip"

PLACEHOLDERS = {
    EMAIL: "[EMAIL]",
    PHONE: "[PHONE]",
    CARD: "[CARD]",
    IBAN: "[IBAN]",
    NATIONAL_ID: "[NATIONAL_ID]",
    IP: "[IP]",
}

_DIGIT = re.compile(r"\d")
# What every rule below needs at the least: a string without any of these is
# left alone after one search, which is most of a page's texts and selectors.
_CANDIDATE = re.compile(
    r"@|%40|\(at\)|\[at\]"  # e-mail
    r"|[A-Za-z]{2}\d{2}"  # IBAN, NINO
    r"|\d(?:[ .()+-]{0,2}\d){5}"  # card, SSN, NINO, phone: six digits or more
    r"|(?<![\d.])(?!127\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d"  # IPv4 other than loopback
    r"|:[0-9A-Fa-f]{0,4}:"  # IPv6
)

# Bounded as the RFCs bound them: a local part of at most 64 characters, a
# domain of at most ten labels of at most 63. Looked for from each anchor
# (`_email_spans`): the domain after it, then the local part before it.
_EMAIL_LOCAL_MAX = 64
_EMAIL_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
)
_EMAIL_ANCHOR_RE = re.compile(r"@|%40|\(at\)|\[at\]")
_EMAIL_DOMAIN_RE = re.compile(r"[A-Za-z0-9-]{1,63}+(?:\.[A-Za-z0-9-]{1,63}+){0,8}\.[A-Za-z]{2,63}")
# Two letters, two check digits, then 11..30 alphanumerics, optionally in groups of four.
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
# 13..19 digits, optionally grouped by spaces or dashes.
_CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# US SSN: never 000, 666 or 9xx in the area, never 00 or 0000 in the other parts.
_SSN_RE = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ]?)(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
# UK National Insurance number: two letters (a few never used), six digits, A-D.
_NINO_RE = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
    re.IGNORECASE,
)
_IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
# An optional `label:` in front (`mailto:2001:db8::1`, `ip:fe80::1`) so that an
# address written right after a scheme or a field name is found; the check
# then decides whether the label belongs to the address.
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?P<label>[A-Za-z][\w.+-]{0,63}+:)?"
    r"(?P<address>(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?)(?![\w:])"
)
# An international number, or a national one written in groups; 7..15 digits in all.
# A match is at most 50 characters and cannot end inside a run of digits, so the
# lookaheads, each a necessary condition, prune what backtracking would otherwise
# try: a start with no digit followed by a non-word character within reach, and a
# run of digits too long for the groups left or ending in a letter.
_PHONE_RE = re.compile(
    r"(?<![\w+./(])(?=[\d+(])(?=[\d +.()-]{0,50}?(?<=\d)(?!\w))"
    r"(?:(?:\+|00)\d{1,4}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?"
    r"(?=\d{1,30}+(?!\w))\d{1,5}(?:[ .-]?(?=\d{0,25}+(?!\w))\d{2,5}){1,5}(?!\w)"
)
_DATE_RE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    compact = re.sub(r"[ -]", "", text).upper()
    if not 15 <= len(compact) <= 34 or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def card_valid(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _longest_valid(text: str, valid: Callable[[str], bool]) -> int:
    """The length of the longest prefix of `text` ending at a group boundary that is valid.

    A greedy pattern may run on into the next word or number group; the real
    value is then a prefix of what it matched.
    """
    ends = [i for i in range(len(text), 0, -1) if i == len(text) or text[i] in " -"]
    for end in ends:
        if valid(text[:end]):
            return end
    return 0


def _email_spans(text: str) -> list[tuple[int, int]]:
    """Where the e-mail addresses are: (start, end) of each, left to right, none overlapping.

    An address is an anchor with a domain right after it and 1..64 local-part
    characters right before it (as many as there are). Each anchor costs one
    bounded match, and the local parts scanned back over never overlap, so
    this is linear in the text however it is built.
    """
    spans: list[tuple[int, int]] = []
    last_end = 0
    for anchor in _EMAIL_ANCHOR_RE.finditer(text):
        at = anchor.start()
        if at <= last_end:
            continue
        domain = _EMAIL_DOMAIN_RE.match(text, anchor.end())
        if domain is None:
            continue
        start, floor = at, max(last_end, at - _EMAIL_LOCAL_MAX)
        while start > floor and text[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        if start < at:
            spans.append((start, domain.end()))
            last_end = domain.end()
    return spans


def _ipv4(match: re.Match[str]) -> bool:
    try:
        address = ipaddress.IPv4Address(match.group())
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def _ipv6(match: re.Match[str]) -> bool | tuple[int, int]:
    def public(text: str) -> bool:
        if text.count(":") < 2:
            return False
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return not (address.is_loopback or address.is_unspecified)

    if public(match.group()):  # `ad:2001:db8::1`: the "label" was the first group
        return True
    if match.group("label") and public(match.group("address")):
        return match.start("address") - match.start(), len(match.group())
    return False


def _phone(match: re.Match[str]) -> bool:
    text = match.group()
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15:
        return False
    if _DATE_RE.fullmatch(text.strip()):
        return False
    # A bare run of digits is only a phone number when it says so with + or 00.
    grouped = any(ch in text for ch in " .-()")
    return grouped or text.startswith(("+", "00"))


def _always(match: re.Match[str]) -> bool:
    return True


def _prefix_check(valid: Callable[[str], bool]) -> Callable[[re.Match[str]], tuple[int, int]]:
    def check(match: re.Match[str]) -> tuple[int, int]:
        return 0, _longest_valid(match.group(), valid)

    return check


# (kind, pattern, check, needs a digit); a check answers True, False, or the
# (start, end) of the value within the match (the rest is left as it was).
Verdict = bool | tuple[int, int]
_RULES: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], Verdict], bool]] = [
    (EMAIL, _EMAIL_ANCHOR_RE, _always, False),  # found by _email_spans, not by the pattern
    (IBAN, _IBAN_RE, _prefix_check(iban_valid), True),
    (CARD, _CARD_RE, _prefix_check(card_valid), True),
    (NATIONAL_ID, _SSN_RE, _always, True),
    (NATIONAL_ID, _NINO_RE, _always, True),
    (IP, _IPV6_RE, _ipv6, False),
    (IP, _IPV4_RE, _ipv4, True),
    (PHONE, _PHONE_RE, _phone, True),
]


_NOTHING: frozenset[str] = frozenset()


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(placeholder)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def mask_text(text: str) -> tuple[str, frozenset[str]]:
    """The text with personal data replaced by placeholders, and the kinds found.

    NUL characters are dropped too: they mean nothing on a page, and
    PostgreSQL can store them neither in text nor in jsonb.
    """
    if not text:
        return text, _NOTHING
    if "\x00" in text:
        text = text.replace("\x00", "")
    if len(text) <= _CACHE_SHORT:
        return _mask_text_cached(text)
    if len(text) <= _CACHE_LONG:
        return _mask_long_text_cached(text)
    return _mask_text(text)


def _mask_text(text: str) -> tuple[str, frozenset[str]]:
    if _CANDIDATE.search(text) is None:
        return text, _NOTHING
    kinds: set[str] = set()
    has_digit = _DIGIT.search(text) is not None
    has_at = "@" in text or "%40" in text or "(at)" in text or "[at]" in text
    has_colons = text.count(":") >= 2
    for kind, pattern, check, needs_digit in _RULES:
        if needs_digit and not has_digit:
            continue
        if kind == EMAIL and not has_at:
            continue
        if pattern is _IPV6_RE and not has_colons:
            continue

        def replace(
            match: re.Match[str],
            kind: str = kind,
            check: Callable[[re.Match[str]], Verdict] = check,
        ) -> str:
            verdict = check(match)
            if verdict is False:
                return match.group()
            if verdict is True:
                kinds.add(kind)
                return PLACEHOLDERS[kind]
            start, end = verdict
            if start >= end:
                return match.group()
            kinds.add(kind)
            found = match.group()
            return found[:start] + PLACEHOLDERS[kind] + found[end:]

        if kind == EMAIL:
            spans = _email_spans(text)
            if spans:
                kinds.add(EMAIL)
                text = _replace_spans(text, spans, PLACEHOLDERS[EMAIL])
        else:
            text = pattern.sub(replace, text)
        if kind in (EMAIL, IBAN, CARD, NATIONAL_ID):
            has_digit = has_digit and _DIGIT.search(text) is not None
    return text, frozenset(kinds)


# A page's titles, URLs, labels and snippets repeat from event to event, and
# a dictionary lookup is much cheaper than even the first search above. Only
# bounded strings are remembered: up to 256 characters in the large cache,
# up to 8,192 (a DOM snippet, which repeats while the page stays) in a small
# one, longer ones never; so the caches hold a few million characters at most.
_CACHE_SHORT = 256
_CACHE_LONG = 8192
_mask_text_cached = functools.lru_cache(maxsize=16384)(_mask_text)
_mask_long_text_cached = functools.lru_cache(maxsize=256)(_mask_text)


def mask_url(url: str) -> tuple[str, frozenset[str]]:
    """A URL masked after decoding, so `john%40example.com` is caught too."""
    if not url:
        return url, _NOTHING
    if len(url) <= _CACHE_SHORT:
        return _mask_url_cached(url)
    if len(url) <= _CACHE_LONG:
        return _mask_long_url_cached(url)
    return _mask_url(url)


def _mask_url(url: str) -> tuple[str, frozenset[str]]:
    masked, kinds = mask_text(url)
    if "%" in url or "+" in url:
        decoded = unquote_plus(url)
        if decoded != url:
            decoded_masked, decoded_kinds = mask_text(decoded)
            if decoded_kinds - kinds:
                # Something hid behind the encoding: keep the decoded, masked form.
                return decoded_masked, kinds | decoded_kinds
    return masked, kinds


_mask_url_cached = functools.lru_cache(maxsize=4096)(_mask_url)
_mask_long_url_cached = functools.lru_cache(maxsize=256)(_mask_url)


def _mask_value(value: Any, kinds: set[str], url: bool = False) -> Any:
    # type() and positional arguments: this runs for every string of every event.
    kind = type(value)
    if kind is str:
        masked, found = mask_url(value) if url else mask_text(value)
        if found:
            kinds |= found
        return masked
    if kind is dict:
        return {
            _without_nul(k): _mask_value(v, kinds, url or k in _URL_KEYS) for k, v in value.items()
        }
    if kind is list:
        return [_mask_value(v, kinds, url) for v in value]
    return value


_URL_KEYS = frozenset({"href", "src", "action", "url", "formaction"})


def _without_nul(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def mask_element(element: Any, kinds: set[str]) -> Any:
    """An element description (a target or a nearby element) with every string masked."""
    if not isinstance(element, dict):
        return element
    out: dict[str, Any] = {}
    for key, value in element.items():
        if key == "nearby" and isinstance(value, list):
            out[key] = [mask_element(v, kinds) for v in value]
        elif key == "bbox" and isinstance(value, dict):  # numbers only, as validated
            out[key] = {_without_nul(k): v for k, v in value.items()}
        else:
            out[_without_nul(key)] = _mask_value(value, kinds, key in _URL_KEYS)
    return out


def mask_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with value, title, URL and target masked; kinds recorded in `masked_kinds`."""
    kinds: set[str] = set()
    out = dict(event)
    for key in ("value", "title", "text"):
        if isinstance(out.get(key), str):
            out[key] = _mask_value(out[key], kinds)
    if isinstance(out.get("url"), str):
        out["url"] = _mask_value(out["url"], kinds, True)
    if "target" in out:
        out["target"] = mask_element(out["target"], kinds)
    previous = out.get("masked_kinds") or []
    if not isinstance(previous, list):
        previous = []
    merged = list(dict.fromkeys([*(_without_nul(str(k)) for k in previous), *sorted(kinds)]))
    out["masked_kinds"] = merged
    if kinds:
        out["masked"] = True
    return out


# Capture masks on ingest; rows that came in some other way (a bulk load, an
# import) are masked again on their way into a training file. Short strings,
# which repeat across sessions of one site (titles, names, selectors), are
# remembered in a bounded cache.
_CACHED_UP_TO = 256


@functools.lru_cache(maxsize=20_000)
def _mask_short(text: str) -> str:
    return mask_text(text)[0]


@functools.lru_cache(maxsize=5_000)
def _mask_short_url(url: str) -> str:
    return mask_url(url)[0]


def mask_value(value: Any) -> Any:
    """A string masked (anything else as it is), for rows on their way out."""
    if not isinstance(value, str) or not value:
        return value
    return _mask_short(value) if len(value) <= _CACHED_UP_TO else mask_text(value)[0]


def mask_url_value(value: Any) -> Any:
    """A URL masked (anything else as it is), for rows on their way out."""
    if not isinstance(value, str) or not value:
        return value
    return _mask_short_url(value) if len(value) <= _CACHED_UP_TO else mask_url(value)[0]


def mask_element_summary(
    element: Any,
    *,
    selector_of: Callable[[Any], str],
    max_nearby: int,
    max_snippet: int,
    depth: int = 0,
) -> Any:
    """What an export writes of an element, masked: its one best selector, not all of them."""
    if not isinstance(element, dict):
        return element
    attributes = element.get("attributes")
    masked = {
        "tag": mask_value(element.get("tag")),
        "text": mask_value(element.get("text")),
        "role": mask_value(element.get("role")),
        "name": mask_value(element.get("name")),
        "attributes": (
            {
                k: mask_url_value(v) if k in _URL_ATTRIBUTES else mask_value(v)
                for k, v in attributes.items()
            }
            if isinstance(attributes, dict)
            else {}
        ),
        "bbox": element.get("bbox"),
        "selectors": [{"value": mask_value(selector_of(element)), "score": 1.0, "unique": True}],
    }
    if depth == 0:
        nearby = element.get("nearby")
        masked["nearby"] = [
            mask_element_summary(
                n, selector_of=selector_of, max_nearby=max_nearby, max_snippet=max_snippet, depth=1
            )
            for n in (nearby if isinstance(nearby, list) else ())[:max_nearby]
        ]
        masked["dom_snippet"] = mask_value(str(element.get("dom_snippet") or "")[:max_snippet])
    return masked


_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction"})
