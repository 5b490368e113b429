"""Assertions shared by the flow tests."""

from __future__ import annotations

from pathlib import Path

from reskin.edit.request import EditRequest
from reskin.media.binaries import FFmpegTools
from reskin.media.conform import Action, conform, plan_conform_file
from reskin.media.probe import probe
from reskin.registry import DEFAULT_MODEL, spec_for


def ask(clip: Path, output: Path, prompt: str = "sepia film", **options: object) -> EditRequest:
    """An edit of ``clip`` into ``output``."""
    return EditRequest.model_validate(
        {"input": str(clip), "prompt": prompt, "output": str(output), **options}
    )


def assert_one_line(error: BaseException, *hints: str) -> str:
    """The error's message is one line and carries each of ``hints`` (what to do)."""
    message = str(error)
    assert message
    assert "\n" not in message
    assert "\r" not in message
    for hint in hints:
        assert hint in message, f"{hint!r} not in {message!r}"
    return message


def assert_no_output(output: Path, work: Path) -> None:
    """No file at ``output``, nothing half-written beside it, no partial download in the work
    dir and no job folder left behind."""
    assert not output.exists()
    if output.parent.exists():
        assert sorted(p.name for p in output.parent.iterdir()) == []
    assert sorted(str(p) for p in work.rglob("*.part*")) == []
    jobs = work / "jobs"
    if jobs.exists():
        assert sorted(p.name for p in jobs.iterdir()) == []


def assert_only_output(output: Path, work: Path) -> None:
    """The output and its before/after preview, nothing else in its folder; no partial file or
    job folder left."""
    assert output.is_file()
    preview = output.with_name(output.stem + ".preview.png")
    assert sorted(p.name for p in output.parent.iterdir()) == sorted([output.name, preview.name])
    assert sorted(str(p) for p in work.rglob("*.part*")) == []
    assert sorted(p.name for p in (work / "jobs").iterdir()) == []


def conformed(clip: Path, target: Path, tools: FFmpegTools) -> Path:
    """``clip`` conformed to the default model at ``target``: a file that goes as it is."""
    limits = spec_for(DEFAULT_MODEL).limits
    ready = conform(
        clip,
        target,
        plan_conform_file(probe(clip), limits=limits),
        tools,
        timeout_s=120,
        limits=limits,
    ).path
    assert plan_conform_file(probe(ready), limits=limits).action is Action.PASSTHROUGH
    return ready
