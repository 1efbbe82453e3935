"""Server-side masking: every kind of personal data is replaced, ordinary text is not."""

from __future__ import annotations

import time
from typing import Any

import pytest

from capture import masking
from capture.masking import luhn_valid, mask_event, mask_text, mask_url

# (text, placeholder, kind)
CORPUS = [
    ("jane.doe+farm@example.co.uk", "[EMAIL]", "email"),
    ("+44 7700 900123", "[PHONE]", "phone"),
    ("(555) 123-4567", "[PHONE]", "phone"),
    ("+1-202-555-0173", "[PHONE]", "phone"),
    ("020 7946 0958", "[PHONE]", "phone"),
    ("4111 1111 1111 1111", "[CARD]", "card"),
    ("5105105105105100", "[CARD]", "card"),
    ("3782-822463-10005", "[CARD]", "card"),
    ("GB82 WEST 1234 5698 7654 32", "[IBAN]", "iban"),
    ("DE89370400440532013000", "[IBAN]", "iban"),
    ("FR1420041010050500013M02606", "[IBAN]", "iban"),
    ("123-45-6789", "[NATIONAL_ID]", "national_id"),
    ("AB 12 34 56 C", "[NATIONAL_ID]", "national_id"),
    ("JG103759A", "[NATIONAL_ID]", "national_id"),
    ("203.0.113.42", "[IP]", "ip"),
    ("192.168.1.20", "[IP]", "ip"),
    ("2001:db8::ff00:42:8329", "[IP]", "ip"),
    ("fe80::1ff:fe23:4567:890a", "[IP]", "ip"),
]


@pytest.mark.parametrize(("value", "placeholder", "kind"), CORPUS)
def test_each_kind_is_masked_inside_text(value: str, placeholder: str, kind: str) -> None:
    masked, kinds = mask_text(f"Contact: {value}, thanks")
    assert masked == f"Contact: {placeholder}, thanks"
    assert kinds == {kind}


@pytest.mark.parametrize(
    "text",
    [
        "Upload a video to the sandbox",
        "4111111111111112",  # fails Luhn: an order number, not a card
        "2024-01-15",
        "12:30:45",
        "Version 2.0.1",
        "Chrome/120.0.6099.109",
        "http://127.0.0.1:8000/sandbox/upload/",
        "a::before",
        "id=42&page=3",
        "Total: 12 items, 3 pages",
        "1,299.00",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_text(text) == (text, frozenset())


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mailto:2001:db8::1", "mailto:[IP]"),
        ("ip:2001:db8::ff00:42:8329 seen", "ip:[IP] seen"),
        ("http://[2001:db8::7]:8080/", "http://[[IP]]:8080/"),
        ("host=fe80::1ff:fe23:4567:890a;", "host=[IP];"),
    ],
)
def test_ipv6_after_a_scheme_or_a_label_is_masked(text: str, masked: str) -> None:
    assert mask_text(text) == (masked, frozenset({"ip"}))


def test_colon_runs_that_are_not_addresses_are_left_alone() -> None:
    for text in ("00:1a:2b:3c:4d:5e", "1:2:3:4:5:6:7:8:9", "at 10:15:30:250", "a::b::c"):
        assert mask_text(text) == (text, frozenset())


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_a_card_followed_by_another_number_keeps_the_number() -> None:
    assert mask_text("4111 1111 1111 1111 2024") == ("[CARD] 2024", frozenset({"card"}))


def test_percent_encoded_values_in_urls_are_caught() -> None:
    masked, kinds = mask_url("http://x.test/form?e=jane%40example.com&p=%2B44+7700+900123")
    assert "jane" not in masked and "7700" not in masked
    assert kinds == {"email", "phone"}


def test_mask_event_covers_every_field_and_records_kinds() -> None:
    event: dict[str, Any] = {
        "sequence": 1,
        "kind": "input",
        "value": "jane@example.com",
        "title": "Account of 123-45-6789",
        "url": "http://x.test/u?ip=203.0.113.42",
        "masked_kinds": ["password"],
        "target": {
            "tag": "input",
            "text": "+44 7700 900123",
            "name": "IBAN GB82 WEST 1234 5698 7654 32",
            "attributes": {"placeholder": "4111 1111 1111 1111", "href": "mailto:jo%40ex.com"},
            "bbox": {"x": 1, "y": 2, "width": 3, "height": 4},
            "selectors": [{"kind": "text", "value": 'text="jane@example.com"', "score": 0.7}],
            "nearby": [
                {"tag": "a", "text": "AB 12 34 56 C", "attributes": {"title": "2001:db8::1"}}
            ],
            "dom_snippet": "<p>Call (555) 123-4567</p>",
        },
    }
    masked = mask_event(event)
    text = repr(masked)
    for secret in (
        "jane@",
        "6789",
        "203.0.113",
        "7700",
        "GB82",
        "4111",
        "jo%40",
        "AB 12",
        "2001:db8",
        "123-4567",
    ):
        assert secret not in text, secret
    assert masked["masked_kinds"] == [
        "password",
        "card",
        "email",
        "iban",
        "ip",
        "national_id",
        "phone",
    ]
    assert masked["target"]["bbox"] == event["target"]["bbox"]
    assert masked["masked"] is True


# Texts that made the old patterns backtrack for a time quadratic in their length
# (an e-mail's unbounded local part, `%40` anchors, an IPv6 label, digit groups).
WORST_CASE_SHAPES = {
    "local part without a domain": lambda n: "a" * n + "@!",
    "dotted run after an anchor": lambda n: "a@" + "b." * (n // 2) + "!",
    "percent-encoded anchors": lambda n: "%40" * (n // 3),
    "anchors and digits": lambda n: "%401-" * (n // 5),
    "an IPv6 label that never ends": lambda n: "-a" * (n // 2) + "::x",
    "digit runs too long for a phone": lambda n: ("1" * 35 + " ") * (n // 36),
    "short digit groups": lambda n: "+1 " * (n // 3),
}


def test_masking_takes_time_linear_in_the_text() -> None:
    # 50,000 characters of each shape took from 10 s to minutes each; now about
    # 0.25 s for all of them together. The budget leaves room for a loaded machine.
    started = time.perf_counter()
    for i, shape in enumerate(WORST_CASE_SHAPES.values()):
        text = f"{i} " + shape(50_000)
        mask_text(text)
        mask_url(text)
    assert time.perf_counter() - started < 2.5


def test_long_addresses_are_still_masked() -> None:
    # Bounded patterns still find an address at the end of a long run of text.
    masked, kinds = mask_text("x" * 5000 + " jane@example.com " + "y" * 5000)
    assert "[EMAIL]" in masked and "jane" not in masked and kinds == {"email"}
    masked, _ = mask_text("a" * 100 + "@example.com")
    assert masked.endswith("[EMAIL]") and "example" not in masked
    assert mask_text("-a" * 2000 + " ip:2001:db8::1")[0].endswith(" ip:[IP]")
    # A label of up to 64 characters in front of an address is read as a label.
    assert mask_text("x-forwarded-for-" + "x" * 40 + ":2001:db8::1")[0].endswith(":[IP]")


def test_only_bounded_strings_are_cached() -> None:
    caches = (
        masking._mask_text_cached,
        masking._mask_long_text_cached,
        masking._mask_url_cached,
        masking._mask_long_url_cached,
    )
    for cache in caches:
        cache.cache_clear()
    mask_text("huge " + "x" * 100_000)
    mask_url("http://x.test/?q=" + "y" * 100_000)
    assert [cache.cache_info().currsize for cache in caches] == [0, 0, 0, 0]
    mask_text("short " + "x" * 100)
    mask_text("snippet " + "x" * 5000)
    assert [cache.cache_info().currsize for cache in caches] == [1, 1, 0, 0]
    assert all(cache.cache_info().maxsize for cache in caches)
