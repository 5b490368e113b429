"""Batches over S3, against a real S3-compatible server (moto on loopback): an inbox prefix is
read by the local inbox's rules, the plan takes each ``s3://`` input's version before anything
is sent, and a clip with an ``s3://`` input or output is skipped only when every rule of
``reskin/batch/reuse.py`` holds. The flow end to end: ``tests/flows/test_edit_batch_s3.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reskin.batch.manifest import Clip, ManifestError, load_clips, scan_s3_inbox
from reskin.batch.places import object_version, results_folder
from reskin.batch.plan import make_plan
from reskin.batch.report import RESULTS_CSV, clip_row, upload_results, write_results
from reskin.batch.request import BatchRequest, ClipStatus
from reskin.batch.reuse import already_done, fingerprint_of_done, request_key
from reskin.edit.request import EditRequest
from reskin.edit.services import journal_of
from reskin.errors import ConfigError
from reskin.journal import Journal
from reskin.settings import Settings
from reskin.storage.s3 import S3Location, S3Prefix, S3Storage
from tests.flows.checks import assert_one_line
from tests.s3_server import S3Server


@dataclass
class Bucket:
    name: str
    settings: Settings
    storage: S3Storage
    server: S3Server

    def put(self, key: str, body: bytes = b"video") -> str:
        self.server.client().put_object(Bucket=self.name, Key=key, Body=body)
        return f"s3://{self.name}/{key}"

    def keys(self) -> list[str]:
        listed = self.server.client().list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def storage_of(self) -> S3Storage:
        return self.storage


@pytest.fixture
def bucket(s3_server: S3Server, tmp_path: Path) -> Bucket:
    name = s3_server.create_bucket()
    settings = Settings.model_validate({"work_dir": tmp_path / "work", **s3_server.settings(name)})
    return Bucket(name, settings, S3Storage.from_settings(settings), s3_server)


def _batch(**fields: Any) -> BatchRequest:
    return BatchRequest.model_validate({"prompt": "sepia", **fields})


# --- an inbox prefix --------------------------------------------------------------------------


def test_an_inbox_prefix_gives_its_videos_by_the_local_inbox_rules(bucket: Bucket) -> None:
    for key in (
        "in/",
        "in/b.MOV",
        "in/a.mp4",
        "in/c.mkv",
        "in/notes.txt",
        "in/.hidden.mp4",
        "in/results.jsonl",
        "in/sub/deeper.mp4",
        "in/folder.mp4/x",
        "inbox/other.mp4",
    ):
        bucket.put(key, key.encode())  # fmt: skip
    batch = _batch(inbox=f"s3://{bucket.name}/in", output_dir=f"s3://{bucket.name}/out/")
    clips = load_clips(batch, bucket.storage_of)
    assert [clip.label for clip in clips] == ["a.mp4", "b.MOV", "c.mkv"]
    assert [clip.request.input for clip in clips] == [
        f"s3://{bucket.name}/in/{name}" for name in ("a.mp4", "b.MOV", "c.mkv")
    ]
    assert [clip.request.output for clip in clips] == [
        f"s3://{bucket.name}/out/{stem}.mp4" for stem in "abc"
    ]
    # Each clip carries the version the listing told, the same a HEAD tells.
    info = bucket.storage.head(S3Location(bucket.name, "in/a.mp4"))
    assert clips[0].input_version == object_version(info.etag, info.size)
    # To a local output folder just as well.
    local = load_clips(_batch(inbox=batch.inbox, output_dir="out"), bucket.storage_of)
    assert [clip.request.output for clip in local] == [
        str(Path("out").resolve() / f"{stem}.mp4") for stem in "abc"
    ]
    # Listed page by page (here 2 keys a request), and refused once over the cap.
    folder = S3Prefix.parse(str(batch.inbox))
    paged = scan_s3_inbox(folder, Path("out"), batch, bucket.storage, page_size=2)
    assert [clip.label for clip in paged] == ["a.mp4", "b.MOV", "c.mkv"]
    with pytest.raises(ManifestError) as caught:
        scan_s3_inbox(folder, Path("out"), batch, bucket.storage, page_size=2, max_clips=2)
    assert_one_line(caught.value, f"inbox s3://{bucket.name}/in/ holds over 2 videos", "split")


def test_an_inbox_prefix_without_videos_is_nothing_to_do_and_one_that_cannot_work_is_refused(
    bucket: Bucket,
) -> None:
    bucket.put("in/notes.txt")
    for inbox in ("in/", "nothing-here/"):
        batch = _batch(inbox=f"s3://{bucket.name}/{inbox}", output_dir="out")
        assert load_clips(batch, bucket.storage_of) == []
    bucket.put("in/a.mp4")
    bucket.put("in/a.mov")
    same = _batch(inbox=f"s3://{bucket.name}/in/", output_dir=f"s3://{bucket.name}/in")
    with pytest.raises(ManifestError) as caught:
        load_clips(same, bucket.storage_of)
    assert_one_line(caught.value, "the output folder is the inbox", "give another output folder")
    two = _batch(inbox=f"s3://{bucket.name}/in/", output_dir="out")
    with pytest.raises(ManifestError) as caught:
        load_clips(two, bucket.storage_of)
    assert_one_line(caught.value, "a.mov and a.mp4 would both write a.mp4")


# --- the plan and the skip rules ----------------------------------------------------------------


def _manifest(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "batch.csv"
    path.write_text("input,output\n" + "".join(row + "\n" for row in rows))
    return str(path)


def _accepted(journal: Journal, fp: str, generation_id: str) -> None:
    journal.reserve(fp)
    journal.accepted(fp, generation_id)


def _done_before(clip: Clip, settings: Settings, journal: Journal, generation_id: str) -> None:
    """``clip`` as an earlier batch left it: journaled under a fingerprint only the run knew,
    its row in the results that batch kept, its output written."""
    fp = fingerprint_of_done(clip.request, generation_id, settings, journal)
    assert fp is not None
    row = clip_row(clip, ClipStatus.DONE, generation_id=generation_id, credits_used=300.0,
                   paid=True, fingerprint=fp, request_key=request_key(clip, settings))  # fmt: skip
    output = clip.request.output_location
    assert output is not None
    results = results_folder(S3Prefix(output.bucket, "out/"), settings.work_dir)
    write_results(results, [row])


def test_an_s3_clip_done_before_is_skipped_until_its_input_or_request_changes(
    bucket: Bucket, tmp_path: Path
) -> None:
    settings, journal = bucket.settings, journal_of(bucket.settings)
    source = bucket.put("in/a.mp4", b"first take")
    output = f"s3://{bucket.name}/out/a.mp4"
    batch = _batch(manifest=_manifest(tmp_path, f"{source},a.mp4"), output_dir=output[:-5])

    (clip,) = make_plan(batch, settings, journal, bucket.storage_of).clips
    info = bucket.storage.head(S3Location.parse(source))
    assert clip.input_version == object_version(info.etag, info.size)  # HEADed by the plan
    assert clip.request.output == output
    _accepted(journal, "fp-from-the-run", "gen-1")
    assert fingerprint_of_done(clip.request, "gen-2", settings, journal) is None
    _done_before(clip, settings, journal, "gen-1")

    # The output is not there yet: sent.
    assert make_plan(batch, settings, journal, bucket.storage_of).skipped == {}
    bucket.put("out/a.mp4")
    # The journal holds it as accepted only (its result never downloaded): sent.
    assert make_plan(batch, settings, journal, bucket.storage_of).skipped == {}
    journal.downloaded("fp-from-the-run", Path("/work/results/a.mp4"), 300.0)
    plan = make_plan(batch, settings, journal, bucket.storage_of)
    skipped = plan.skipped[0]
    assert (skipped.status, skipped.generation_id, skipped.paid) == (ClipStatus.SKIPPED, "gen-1",
                                                                     False)  # fmt: skip
    assert skipped.fingerprint == "fp-from-the-run"
    assert skipped.request_key == request_key(clip, settings)

    # Another prompt: another request, sent.
    other = batch.model_copy(update={"prompt": "ink"})
    assert make_plan(other, settings, journal, bucket.storage_of).skipped == {}
    # The journal no longer holds it as done: sent.
    assert make_plan(batch, settings, Journal(tmp_path / "other.sqlite3"),
                     bucket.storage_of).skipped == {}  # fmt: skip
    # A version unknown (the object could not be read when planned): sent.
    unknown = Clip(0, "a.mp4", None, clip.request)
    assert request_key(unknown, settings) is None
    earlier = {output: plan.skipped[0]}
    assert already_done(plan.clips[0], earlier, settings, journal, bucket.storage_of) is not None
    assert already_done(unknown, earlier, settings, journal, bucket.storage_of) is None
    # The input replaced by other bytes: a new ETag, sent.
    bucket.put("in/a.mp4", b"second take")
    assert make_plan(batch, settings, journal, bucket.storage_of).skipped == {}


def test_a_missing_output_bucket_refuses_the_plan_and_a_missing_input_is_left_to_its_run(
    bucket: Bucket, tmp_path: Path
) -> None:
    settings, journal = bucket.settings, journal_of(bucket.settings)
    missing = f"s3://{bucket.name}/in/none.mp4"
    batch = _batch(manifest=_manifest(tmp_path, f"{missing},"), output_dir="out")
    (clip,) = make_plan(batch, settings, journal, bucket.storage_of).clips
    assert clip.input_version is None
    nowhere = batch.model_copy(update={"output_dir": "s3://reskin-no-such-bucket/out/"})
    with pytest.raises(ConfigError) as caught:
        make_plan(nowhere, settings, journal, bucket.storage_of)
    assert_one_line(caught.value, "bucket reskin-no-such-bucket does not exist", "create it")


def test_the_results_are_uploaded_whole_to_the_output_prefix(
    bucket: Bucket, tmp_path: Path
) -> None:
    request = EditRequest(input="/in/a.mp4", prompt="x", output=f"s3://{bucket.name}/out/a.mp4")
    rows = [clip_row(Clip(0, "a.mp4", None, request), ClipStatus.FAILED, error="x")]
    local = tmp_path / "results"
    write_results(local, rows)
    folder = S3Prefix.parse(f"s3://{bucket.name}/out")
    assert upload_results(local, folder, bucket.storage) == f"s3://{bucket.name}/out/results.jsonl"
    assert bucket.keys() == ["out/results.csv", "out/results.jsonl"]
    body = bucket.server.client().get_object(Bucket=bucket.name, Key="out/results.jsonl")["Body"]
    assert body.read() == (local / "results.jsonl").read_bytes()
    info = bucket.storage.head(folder.location(RESULTS_CSV))
    assert info.content_type == "text/csv"
