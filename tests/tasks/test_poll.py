"""What the poll task reports of each status answer: a new status, the end, else now and then."""

from __future__ import annotations

from tasks.poll import PROGRESS_EVERY_S, Every


def test_a_new_status_the_end_and_every_period_are_reported_and_nothing_else() -> None:
    every = Every(10.0)
    answers = [
        ("queued", 0.0, False),
        ("queued", 3.5, False),
        ("generating", 7.0, False),
        ("generating", 10.5, False),
        ("generating", 16.9, False),
        ("generating", 17.0, False),
        ("generating", 20.5, False),
        ("completed", 21.0, True),
    ]
    reported = [(status, at) for status, at, done in answers if every.due(status, at, done=done)]
    assert reported == [
        ("queued", 0.0),
        ("generating", 7.0),
        ("generating", 17.0),
        ("completed", 21.0),
    ]


def test_the_end_is_reported_even_right_after_a_report() -> None:
    every = Every(PROGRESS_EVERY_S)
    assert every.due("generating", 1.0, done=False)
    assert every.due("generating", 1.5, done=True)
