"""Edits through S3, end to end: a real moto server on loopback holds the input and takes the
output, the real stand-in fetches the clip from it by a presigned URL (the only thing it is
given), and the flow runs under the Prefect test harness.

- an ``s3://`` input that conforms is presigned where it is: nothing is uploaded or copied;
- a clip that had to be conformed is uploaded under the prefix and deleted after the job;
- an ``s3://`` output is written once verified, with its preview, and the run's artifacts link
  to both by presigned URLs;
- an output bucket that does not exist is refused before anything is sent.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.logging.handlers import APILogHandler

from flows.edit_video import edit_video
from reskin.edit.request import EditRequest
from reskin.errors import ConfigError
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import probe
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from reskin.storage.s3 import S3Location, S3Storage
from tests.conftest import MakeClip
from tests.flows.checks import conformed
from tests.flows.recorder import Recorder
from tests.s3_server import S3Server

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


@pytest.fixture
def bucket(s3_server: S3Server, edit_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, and this process's settings aimed at it (on top of ``edit_env``)."""
    name = s3_server.create_bucket()
    for variable, value in s3_server.env(name).items():
        monkeypatch.setenv(variable, value)
    return name


def _keys(s3_server: S3Server, bucket: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def _presigned_for(url: str, s3_server: S3Server, bucket: str, key: str) -> dict[str, list[str]]:
    """The query of ``url``, after checking it is a presigned GET of ``bucket/key``."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == s3_server.endpoint_url
    assert parts.path == f"/{bucket}/{key}"
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "X-Amz-Signature" in query
    return query


async def test_an_s3_clip_is_edited_into_s3_with_a_presigned_url_as_all_the_service_saw(
    bucket: str, s3_server: S3Server, standin: StandIn, make_clip: MakeClip, edit_env: Path,
    ffmpeg_tools: FFmpegTools, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    ready = conformed(clip, edit_env / "ready.mp4", ffmpeg_tools)
    storage = S3Storage.from_settings(load_settings())
    source = S3Location.parse(f"s3://{bucket}/incoming/harbour.mp4")
    storage.upload(ready, source)
    request = EditRequest(
        input=source.url, prompt="sepia film", output=f"s3://{bucket}/edited/harbour.mp4"
    )

    with Recorder(standin.base_url) as relay:
        monkeypatch.setenv("AIMLAPI_BASE_URL", relay.base_url)
        state = await edit_video(request, return_state=True)
        result = await state.aresult()

    # The clip conformed as it was: the service got a presigned URL of the user's own object,
    # valid RESKIN_S3_PRESIGN_EXPIRY_S; nothing was uploaded for it.
    (create,) = relay.creates
    query = _presigned_for(create["video_url"], s3_server, bucket, "incoming/harbour.mp4")
    assert query["X-Amz-Expires"] == ["900"]
    assert standin.stats().jobs_accepted == 1

    # The output and its preview are in the bucket, and nothing else was left there.
    assert result.output == f"s3://{bucket}/edited/harbour.mp4"
    assert result.preview == f"s3://{bucket}/edited/harbour.preview.png"
    assert _keys(s3_server, bucket) == [
        "edited/harbour.mp4",
        "edited/harbour.preview.png",
        "incoming/harbour.mp4",
    ]
    fetched = edit_env / "check" / "edited.mp4"
    fetched.parent.mkdir()
    storage.download(S3Location.parse(result.output), fetched, max_bytes=10**9, timeout_s=60)
    info = probe(fetched)
    assert (info.fps, info.has_audio) == (24, True)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    # No local copy of the output stays behind in the work folder, nor a job folder.
    assert not list((edit_env / "outputs").rglob("*.mp4"))
    assert not list((edit_env / "jobs").iterdir())

    # The run's artifacts link to the output and show the preview, by presigned URLs that
    # really fetch them.
    await APILogHandler.aflush()
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    markdown = [str(a.data) for a in artifacts if a.type == "markdown"]
    (summary,) = [text for text in markdown if text.startswith("# reskin edit")]
    (link,) = [text for text in markdown if not text.startswith("# reskin edit")]
    picture = summary.split("![input (top) and result (bottom)](<", 1)[1].split(">)", 1)[0]
    _presigned_for(picture, s3_server, bucket, "edited/harbour.preview.png")
    video = link.split("](", 1)[1].rstrip(")")
    query = _presigned_for(video, s3_server, bucket, "edited/harbour.mp4")
    assert query["X-Amz-Expires"] == ["86400"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(picture)).content[:8] == b"\x89PNG\r\n\x1a\n"
        assert (await http.get(video)).content == fetched.read_bytes()
    (table,) = [a for a in artifacts if a.type == "table"]
    assert json.loads(str(table.data))[0]["output"] == result.output


async def test_a_conformed_clip_is_uploaded_for_the_service_and_deleted_after_the_job(
    bucket: str, s3_server: S3Server, standin: StandIn, make_clip: MakeClip, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("RESKIN_UPLOAD", "s3")
    monkeypatch.setenv("RESKIN_S3_PREFIX", "team-a/")
    # 15 fps is under the model's 24: the clip is conformed, so it cannot go as it is.
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=15)
    output = tmp_path / "out" / "edited.mp4"

    with Recorder(standin.base_url) as relay:
        monkeypatch.setenv("AIMLAPI_BASE_URL", relay.base_url)
        result = await edit_video(EditRequest(input=str(clip), prompt="sepia", output=str(output)))

    (create,) = relay.creates
    key = urlsplit(create["video_url"]).path.split("/", 2)[2]
    assert key.startswith("team-a/uploads/")
    _presigned_for(create["video_url"], s3_server, bucket, key)
    # The service fetched it (the job completed from it), then reskin deleted it.
    assert standin.stats().jobs_accepted == 1
    assert _keys(s3_server, bucket) == []
    assert result.output == str(output)
    assert result.preview == str(output.with_suffix(".preview.png"))
    assert output.is_file()
    assert output.with_suffix(".preview.png").is_file()


async def test_an_output_bucket_that_does_not_exist_is_refused_before_anything_is_sent(
    bucket: str, standin: StandIn, make_clip: MakeClip
) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    request = EditRequest(input=str(clip), prompt="sepia", output=f"s3://{missing}/a.mp4")
    before = standin.stats().jobs_accepted
    with pytest.raises(ConfigError, match=f"bucket {missing} does not exist") as caught:
        await edit_video(request)
    assert "\n" not in str(caught.value)
    assert standin.stats().jobs_accepted == before
