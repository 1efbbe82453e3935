"""Opening sessions and appending batches of events through the services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from capture.models import CapturedSession, Interaction
from capture.services import (
    SessionNotRecording,
    session_close,
    session_events_append,
    session_open,
)
from core.errors import ServiceError
from tests.factories import make_event, target_of


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
