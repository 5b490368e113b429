"""The progress events as data: each crosses JSON and comes back equal (the reskin runner sends
them to ``reskin edit``), and what is not an event is refused."""

from __future__ import annotations

import json

import pytest

from reskin.progress import (
    KINDS,
    Event,
    JobStatus,
    Retrying,
    SegmentEnd,
    Segments,
    StageDone,
    from_dict,
    to_dict,
)

EVENTS: list[Event] = [
    StageDone("poll", 1.25),
    JobStatus("generating", 3.5, 240.0, learned_from=12),
    Retrying("create", "429", 1, 4, 2.0, asked=True),
    Segments(3),
    SegmentEnd(2, 3, "segment 2 of 3 (10.00..20.00 s)"),
]


def test_every_kind_is_covered() -> None:
    assert {type(event).__name__ for event in EVENTS} == set(KINDS)


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_an_event_crosses_json_and_comes_back_equal(event: Event) -> None:
    again = from_dict(json.loads(json.dumps(to_dict(event))))
    assert again == event
    assert type(again) is type(event)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"kind": "Unknown"}, "not a progress event"),
        ({"kind": "StageDone", "stage": "poll", "seconds": 1.0, "extra": 1}, "has no field"),
        ({"kind": "StageDone", "stage": "poll", "seconds": "1"}, "is not a float"),
        ({"kind": "Segments", "count": True}, "is not a int"),
    ],
)
def test_what_is_not_an_event_is_refused(data: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        from_dict(data)
