"""Opening sessions and appending batches of events through the services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from capture.masking import mask_event
from capture.models import CapturedSession, Interaction
from capture.services import (
    SessionFull,
    SessionNotRecording,
    session_close,
    session_events_append,
    session_open,
)
from core.errors import ServiceError
from tests.conftest import broker_queue_purge
from tests.factories import make_event, target_of, thread_for
from uploads.dispatcher import posts_dispatch
from uploads.models import PostStatus
from uploads.services import post_create


def test_session_open_masks_task_and_url(workspace) -> None:
    session = session_open(
        workspace=workspace,
        kind="human",
        start_url="http://x.test/?email=jane@example.com",
        viewport={"width": 1280, "height": 900},
        user_agent="Chromium",
        task="Write to jane@example.com about order 42",
    )
    session.refresh_from_db()
    assert session.state == CapturedSession.State.RECORDING
    assert session.task == "Write to [EMAIL] about order 42"
    assert "jane" not in session.start_url
    assert (session.viewport_width, session.viewport_height) == (1280, 900)
    assert session.masked_kinds == ["email"]


def test_session_open_refuses_an_unknown_kind(workspace) -> None:
    with pytest.raises(ServiceError, match="kind"):
        session_open(workspace=workspace, kind="robot")


def test_session_open_refuses_another_workspaces_account(
    workspace, make_workspace, make_account
) -> None:
    other = make_account(make_workspace())
    with pytest.raises(ServiceError, match="account"):
        session_open(workspace=workspace, kind="automated", account=other)


def test_append_stores_events_and_a_resent_batch_adds_nothing(make_session: Callable) -> None:
    session = make_session()
    batch = [make_event(i) for i in range(1, 51)]
    first = session_events_append(session=session, events=batch)
    assert (first.added, first.duplicates, first.errors) == (50, 0, [])
    again = session_events_append(session=session, events=batch)
    assert (again.added, again.duplicates, again.errors) == (0, 50, [])
    assert Interaction.objects.filter(session=session).count() == 50
    session.refresh_from_db()
    assert session.events_count == 50


def test_overlapping_batches_add_only_the_new_sequences(make_session: Callable) -> None:
    session = make_session()
    session_events_append(session=session, events=[make_event(i) for i in range(10)])
    result = session_events_append(session=session, events=[make_event(i) for i in range(5, 15)])
    assert (result.added, result.duplicates) == (5, 5)
    assert list(session.interactions.values_list("sequence", flat=True)) == list(range(15))


def test_a_sequence_twice_in_one_batch_is_a_duplicate(make_session: Callable) -> None:
    session = make_session()
    result = session_events_append(session=session, events=[make_event(1), make_event(1)])
    assert (result.added, result.duplicates) == (1, 1)


def test_bad_events_get_errors_by_index_and_field_good_ones_are_kept(
    make_session: Callable,
) -> None:
    session = make_session()
    events: list[Any] = [  # as a page may send them: one is not even an object
        make_event(1),
        make_event(2, kind="hover"),
        "not an object",
        {**make_event(4), "sequence": None},
        make_event(5, timestamp_ms="yesterday", target={"selectors": [{"kind": "css"}]}),
        {**make_event(6), "sequence": True},
        make_event(7),
    ]
    result = session_events_append(session=session, events=events)
    assert result.added == 2
    by_index = {e["index"]: e for e in result.errors}
    assert set(by_index) == {1, 2, 3, 4, 5}
    assert by_index[1]["sequence"] == 2 and "kind" in by_index[1]["errors"]
    assert "non_field_errors" in by_index[2]["errors"]
    assert by_index[3]["sequence"] is None and "sequence" in by_index[3]["errors"]
    assert set(by_index[4]["errors"]) == {"timestamp_ms", "target"}
    assert "sequence" in by_index[5]["errors"]
    assert list(session.interactions.values_list("sequence", flat=True)) == [1, 7]


def test_a_batch_costs_a_fixed_number_of_queries(make_session: Callable) -> None:
    session = make_session()
    with CaptureQueriesContext(connection) as small:
        session_events_append(session=session, events=[make_event(i) for i in range(10)])
    with CaptureQueriesContext(connection) as large:
        session_events_append(session=session, events=[make_event(i) for i in range(10, 1010)])
    # Only the INSERTs grow (SQLite caps the parameters of one statement); never one per event.
    # (PostgreSQL writes the rows with one COPY, which the query log does not show.)

    def split(queries: list[dict]) -> tuple[int, int]:
        inserts = sum(q["sql"].startswith("INSERT") for q in queries)
        return inserts, len(queries) - inserts

    small_inserts, small_others = split(small.captured_queries)
    large_inserts, large_others = split(large.captured_queries)
    assert large_others == small_others
    assert small_inserts <= 1
    assert large_inserts <= 20
    assert session.interactions.count() == 1010


def test_over_a_thousand_events_is_refused(make_session: Callable) -> None:
    session = make_session()
    with pytest.raises(ServiceError, match="1000"):
        session_events_append(session=session, events=[make_event(i) for i in range(1001)])


def test_events_are_masked_before_they_are_stored(make_session: Callable) -> None:
    session = make_session()
    event = make_event(
        1,
        kind="input",
        value="jane@example.com",
        target={**make_event(1)["target"], "text": "Card 4111 1111 1111 1111"},
    )
    session_events_append(session=session, events=[event])
    row = Interaction.objects.get(session=session)
    assert row.value == "[EMAIL]"
    assert target_of(row)["text"] == "Card [CARD]"
    assert row.masked_kinds == ["card", "email"]
    session.refresh_from_db()
    assert session.masked_kinds == ["card", "email"]


def test_a_closed_session_takes_no_more_events(make_session: Callable) -> None:
    session = make_session()
    session_events_append(session=session, events=[make_event(1)])
    session_close(session=session)
    with pytest.raises(SessionNotRecording):
        session_events_append(session=session, events=[make_event(2)])


@pytest.mark.django_db(transaction=True)
def test_clients_resending_overlapping_batches_at_once_store_each_event_once(
    make_session: Callable,
) -> None:
    session = make_session()
    # Six clients, each sending a window of 400 that overlaps its neighbours' by half.
    windows = [list(range(start, start + 400)) for start in range(0, 1200, 200)]
    errors: list[BaseException] = []
    added: list[int] = []
    barrier = threading.Barrier(len(windows))

    def client(sequences: list[int]) -> None:
        try:
            barrier.wait()
            result = session_events_append(
                session=CapturedSession.objects.get(pk=session.pk),
                events=[make_event(s) for s in sequences],
            )
            added.append(result.added)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(w,)) for w in windows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    distinct = len({s for w in windows for s in w})
    assert sum(added) == distinct == 1400
    session.refresh_from_db()
    assert session.events_count == distinct
    assert session.interactions.count() == distinct


def test_nul_characters_from_a_page_are_dropped_not_fatal(make_session: Callable) -> None:
    # PostgreSQL stores NUL neither in text nor in jsonb; a page may still send one.
    session = make_session()
    event = make_event(1, kind="input", value="a\x00b", title="Up\x00load")
    event["target"]["text"] = "Pub\x00lish"
    event["target"]["attributes"] = {"data-\x00x": "y\x00", "href": "/u?\x00"}
    event["target"]["nearby"] = [{"tag": "a", "text": "\x00", "selectors": []}]
    event["masked_kinds"] = ["in\x00put"]
    result = session_events_append(session=session, events=[event, make_event(2)])
    assert (result.added, result.errors) == (2, [])
    row = Interaction.objects.get(session=session, sequence=1)
    stored = repr((row.value, row.title, row.target, row.masked_kinds))
    assert "\x00" not in stored and "\\x00" not in stored
    assert (row.value, row.title, target_of(row)["text"]) == ("ab", "Upload", "Publish")
    assert target_of(row)["attributes"] == {"data-x": "y", "href": "/u?"}


def test_a_bbox_must_hold_numbers(make_session: Callable) -> None:
    event = make_event(1)
    event["target"]["bbox"] = {"x": "10", "y": 2}
    result = session_events_append(session=make_session(), events=[event])
    assert result.added == 0
    assert result.errors[0]["errors"] == {"target": ["bbox: must be an object of numbers."]}


def _with(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The event with one field, named by a dotted path (`target.nearby.0.text`), set."""
    keys = path.split(".")
    holder: Any = event
    for key in keys[:-1]:
        holder = holder[int(key)] if isinstance(holder, list) else holder[key]
    holder[keys[-1]] = value
    return event


LONG = "a" * 20_000 + "@!"


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("url", "http://x.test/?" + LONG, "url", "At most 8192 characters"),
        ("title", LONG, "title", "At most 1000 characters"),
        ("value", LONG, "value", "At most 10000 characters"),
        ("target.text", LONG, "target", "text: at most 1000 characters"),
        ("target.name", LONG, "target", "name: at most 1000 characters"),
        ("target.tag", "x" * 101, "target", "tag: at most 100 characters"),
        ("target.dom_snippet", LONG, "target", "dom_snippet: at most 8192 characters"),
        ("target.attributes", {"title": LONG}, "target", "attributes.title: at most 2000"),
        ("target.attributes", {f"a{i}": "" for i in range(51)}, "target", "attributes: at most"),
        ("target.attributes", {"data-x": {"nested": [1]}}, "target", "attributes.data-x: must be"),
        (
            "target.selectors",
            [{"kind": "css", "value": LONG, "score": 0.4, "unique": True}],
            "target",
            "selectors[0].value: at most 2000 characters",
        ),
        (
            "target.selectors",
            [{"kind": "css", "value": "a"}] * 21,
            "target",
            "selectors: at most 20",
        ),
        ("target.nearby", [{"tag": "a"}] * 11, "target", "nearby: at most 10"),
        ("target.nearby.0.text", LONG, "target", "nearby[0].text: at most 1000 characters"),
        (
            "target.nearby.0.nearby",
            [{"tag": "a"}],
            "target",
            "nearby[0].nearby: a nearby element has no nearby elements",
        ),
        ("masked_kinds", ["input"] * 21, "masked_kinds", "At most 20 kinds"),
        ("scroll", {"x": 0, "y": 1e300}, "scroll", "within"),
        ("kind", ["click"], "kind", "is not one of"),
    ],
)
def test_every_string_and_list_of_an_event_is_capped(
    make_session: Callable, path: str, value: Any, field: str, message: str
) -> None:
    session = make_session()
    bad = _with(make_event(2), path, value)
    result = session_events_append(session=session, events=[make_event(1), bad, make_event(3)])
    assert result.added == 2
    assert [(e["index"], e["sequence"]) for e in result.errors] == [(1, 2)]
    errors = result.errors[0]["errors"]
    assert list(errors) == [field], errors
    assert message in errors[field][0], errors
    assert list(session.interactions.values_list("sequence", flat=True)) == [1, 3]


def test_an_event_over_its_total_text_is_refused(make_session: Callable) -> None:
    event = make_event(1, value="v" * 9000, url="http://x.test/" + "u" * 8000)
    event["target"]["attributes"] = {f"a{i}": "x" * 1999 for i in range(30)}
    result = session_events_append(session=make_session(), events=[event])
    assert result.added == 0
    assert "characters of text in all" in result.errors[0]["errors"]["non_field_errors"][0]


def test_what_a_target_holds_beyond_its_fields_is_left_out(make_session: Callable) -> None:
    session = make_session()
    event = make_event(1)
    event["target"]["outerHTML"] = "<div>" * 10_000
    event["target"]["selectors"][0]["extra"] = "x" * 10_000
    event["target"]["nearby"][0]["private"] = {"deep": ["x"] * 1000}
    session_events_append(session=session, events=[event])
    target = target_of(Interaction.objects.get(session=session))
    assert "outerHTML" not in target
    assert "extra" not in target["selectors"][0]
    assert "private" not in target["nearby"][0]
    assert target["selectors"][0]["value"] == '[data-testid="step-1"]'


def test_a_session_keeps_at_most_the_configured_number_of_events(
    make_session: Callable, settings
) -> None:
    settings.CAPTURE_MAX_EVENTS_PER_SESSION = 10
    session = make_session()
    assert session_events_append(session=session, events=[make_event(i) for i in range(8)]).added
    with pytest.raises(SessionFull, match="may hold at most 10; this batch would add 3 more"):
        session_events_append(session=session, events=[make_event(i) for i in range(6, 11)])
    # Nothing of a refused batch is kept; resent events still count as duplicates.
    assert session.interactions.count() == 8
    again = session_events_append(session=session, events=[make_event(i) for i in range(8)])
    assert (again.added, again.duplicates) == (0, 8)
    assert session_events_append(session=session, events=[make_event(8), make_event(9)]).added == 2
    session.refresh_from_db()
    assert session.events_count == 10


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_keeps_working_while_a_batch_is_masked(
    make_session: Callable, workspace, account, monkeypatch
) -> None:
    # Masking runs before the session is locked (on SQLite, the whole database),
    # so however long it takes, the dispatcher and every other writer go on.
    broker_queue_purge()
    post = post_create(workspace=workspace, account=account, title="Due now")
    session = make_session()
    masking, release = threading.Event(), threading.Event()

    def slow_mask_event(event: dict[str, Any]) -> dict[str, Any]:
        masking.set()
        release.wait(timeout=60)
        return mask_event(event)

    monkeypatch.setattr("capture.services.ingest.mask_event", slow_mask_event)
    outcome: dict[str, Any] = {}

    append = thread_for(
        outcome, "append", lambda: session_events_append(session=session, events=[make_event(1)])
    )
    append.start()
    dispatch = thread_for(outcome, "dispatch", posts_dispatch)
    try:
        assert masking.wait(timeout=30)
        dispatch.start()
        dispatch.join(timeout=15)
        dispatched_while_masking = not dispatch.is_alive() and "append" not in outcome
    finally:
        release.set()
        append.join()
        if dispatch.ident is not None:
            dispatch.join()
    assert dispatched_while_masking, outcome
    assert outcome["dispatch"] == 1
    assert outcome["append"].added == 1
    post.refresh_from_db()
    assert post.status == PostStatus.QUEUED
    broker_queue_purge()
