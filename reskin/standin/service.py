"""The stand-in's state and its one piece of business: accepting a generation.

:class:`Service` owns the work folder, the fault board, the counters, the job store, the upload
store and the render pool; the HTTP layer (``app.py`` and its routers) only translates. Accepting
runs in a worker thread: it downloads the input, probes it, checks it against the named model's
limits, then records the job and hands its render to the pool. Everything that differs between
models (limits, billing, the result's size, frame rate, length and sound, the answer's shape)
comes from that model's spec in :mod:`reskin.registry`. In load mode (``load.py``) it only
records the job, which serves a result prepared at start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from pathlib import Path

from reskin.aimlapi.models import CreateRequest
from reskin.errors import ProbeError
from reskin.media.binaries import find_ffmpeg
from reskin.media.probe import MediaInfo, probe
from reskin.registry import spec_for
from reskin.registry.spec import ModelSpec
from reskin.standin.config import StandInConfig
from reskin.standin.faults import CountedFault, FaultBoard
from reskin.standin.files import FileStore
from reskin.standin.http_errors import bad_request
from reskin.standin.inputs import InputRefused, bring_in
from reskin.standin.jobs import Job, JobStore
from reskin.standin.load import PreparedResult, prepare_result, spread_fraction
from reskin.standin.looks import choose_look, describe_filters, drift_filters
from reskin.standin.render import Distortion, FFmpegRenderer, Renderer, RenderTask
from reskin.standin.stats import Counters

log = logging.getLogger(__name__)

#: The faults that make a job's result wrong, and how, in the order a job takes them (one each).
DISTORTING_FAULTS: tuple[tuple[CountedFault, Distortion], ...] = (
    ("reversed_result", "reversed"),
    ("other_scene_result", "other_scene"),
    ("shifted_result", "shifted"),
)


class Service:
    """Everything the stand-in knows; safe to use from the event loop and worker threads."""

    def __init__(self, config: StandInConfig, *, renderer: Renderer | None = None) -> None:
        self.config = config
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if config.work_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="reskin-standin-")
            self.work_dir = Path(self._own_dir.name)
        else:
            self.work_dir = config.work_dir
        self.jobs_dir = self.work_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.faults = FaultBoard(config.faults)
        self.counters = Counters()
        self.jobs = JobStore()
        self.files = FileStore(self.work_dir / "files", max_bytes=config.max_upload_bytes)
        self.renderer: Renderer = renderer or FFmpegRenderer(
            tools=find_ffmpeg(config.ffmpeg_binary),
            preset=config.render_preset,
            timeout_s=config.render_timeout_s,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=config.render_workers, thread_name_prefix="standin-render"
        )
        #: Renders waiting for their start (``render_lead_s``).
        self._timers: list[tuple[threading.Timer, Future[None]]] = []
        self.prepared: PreparedResult | None = None
        if config.load_mode:
            width, height = config.output_long_side, config.output_short_side
            tools = find_ffmpeg(config.ffmpeg_binary)
            self.prepared = prepare_result(
                tools, self.work_dir / "load", width=width, height=height
            )

    def key_matches(self, presented: str) -> bool:
        return secrets.compare_digest(
            presented.encode(), self.config.key.get_secret_value().encode()
        )

    def accept(self, request: CreateRequest) -> Job:
        """Bring in and check the video, then record the job and start its render.

        Raises :class:`ApiProblem` (400) naming the broken rule; blocks on the download.
        """
        job_uuid = uuid.uuid4()
        if self.prepared is not None:
            return self._accept_for_load(request, job_uuid, self.prepared)
        spec = spec_for(request.model)
        if not isinstance(request.video_url, str):  # read from JSON: text (a DataUri is sent)
            raise bad_request("video_url must be a URL or a data URI", field="video_url")
        folder = self.jobs_dir / job_uuid.hex
        try:
            source = bring_in(
                request.video_url,
                folder,
                max_bytes=self.config.max_input_bytes,
                timeout_s=self.config.download_timeout_s,
            )
            info = self._checked(source, spec)
        except (InputRefused, ProbeError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise bad_request(str(exc), field="video_url") from exc
        # Decided before the job exists: a job is never recorded without its render.
        width, height = _result_size(spec, request, info, self.config)
        job = self._record(request, job_uuid, folder, info.duration_s)
        if job.status_word is None and not job.injected_error:
            task = RenderTask(
                source=source,
                result=job.result,
                look=job.look,
                width=width,
                height=height,
                fps=spec.output.fps,
                max_s=spec.output.max_s,
                keep_audio=job.keep_audio,
                distortion=job.distortion,
                drift=job.drift,
            )
            job.render = self._start_render(task, job)
            job.render.add_done_callback(self._count_render)
        log.info(
            "accepted %s: look %s, %.2f s in, %dx%d out, keep_audio=%s, distortion=%s, "
            "references=%d, drift=%s",
            job.id,
            job.look.name,
            info.duration_s,
            width,
            height,
            job.keep_audio,
            job.distortion,
            job.references,
            describe_filters(job.drift),
        )
        return job

    def _accept_for_load(
        self, request: CreateRequest, job_uuid: uuid.UUID, prepared: PreparedResult
    ) -> Job:
        """Load mode: no download, no probe, no render; the job serves the prepared result."""
        job = self._record(request, job_uuid, self.jobs_dir, prepared.duration_s)
        job.result = prepared.path
        if job.status_word is None and not job.injected_error:
            job.render = prepared.done
        return job

    def _checked(self, source: Path, spec: ModelSpec) -> MediaInfo:
        info = probe(source)
        # The same limits conforming reads; only the size cap is the stand-in's own setting.
        limits = spec.limits
        limits = dataclasses.replace(
            limits, max_bytes=min(limits.max_bytes, self.config.max_input_bytes)
        )
        broken = limits.violations(info)
        if broken:
            raise InputRefused("; ".join(broken))
        return info

    def _record(
        self, request: CreateRequest, job_uuid: uuid.UUID, folder: Path, duration_s: float
    ) -> Job:
        faults = self.faults.current
        spec = spec_for(request.model)
        job_id = f"{job_uuid}:{request.model}"
        spread = self.config.generating_spread_s * spread_fraction(job_id)
        references = _reference_count(spec, request)
        job = Job(
            id=job_id,
            token=secrets.token_urlsafe(16),
            folder=folder,
            result=folder / "result.mp4",
            accepted_at=time.monotonic(),
            queued_s=self.config.queued_s * faults.slow_jobs,
            generating_s=(self.config.generating_s + spread) * faults.slow_jobs,
            look=choose_look(request.prompt),
            keep_audio=_wants_sound(spec, request),
            duration_s=duration_s,
            credits=spec.billing.billed_whole_seconds(duration_s) * self.config.credits_per_second,
            injected_error=self.faults.take("job_error"),
            status_word=faults.unknown_status_word if self.faults.take("unknown_status") else None,
            distortion=self._take_distortion(),
            video_shape=spec.output.video_shape,
            references=references,
            # A job with a reference image follows it: no drift.
            drift=() if references else drift_filters(job_id, faults.look_drift),
        )
        self.jobs.add(job)
        self.counters.bump("jobs_accepted")
        return job

    def _start_render(self, task: RenderTask, job: Job) -> Future[None]:
        """The render of ``job``, in the pool now, or ``render_lead_s`` before the job's
        generating time ends (a timer then hands it to the pool)."""
        lead = self.config.render_lead_s
        delay_s = 0.0 if lead is None else job.queued_s + job.generating_s - lead
        if delay_s <= 0:
            return self._pool.submit(self.renderer, task)
        later: Future[None] = Future()

        def hand_over(done: Future[None]) -> None:
            with contextlib.suppress(InvalidStateError):  # cancelled by close() meanwhile
                if done.cancelled():
                    later.cancel()
                elif (failure := done.exception()) is not None:
                    later.set_exception(failure)
                else:
                    later.set_result(None)

        def submit() -> None:
            try:
                self._pool.submit(self.renderer, task).add_done_callback(hand_over)
            except RuntimeError:  # the pool was shut down: the stand-in is closing
                later.cancel()

        timer = threading.Timer(delay_s, submit)
        timer.daemon = True
        self._timers.append((timer, later))
        timer.start()
        return later

    def _take_distortion(self) -> Distortion | None:
        """Spend one count of the first distorting fault that is set; its distortion."""
        for fault, distortion in DISTORTING_FAULTS:
            if self.faults.take(fault):
                return distortion
        return None

    def _count_render(self, future: Future[None]) -> None:
        if future.cancelled():  # dropped by close(): nobody is counting any more
            return
        failure = future.exception()
        if failure is not None:
            log.warning("render failed: %s", failure)
            self.counters.bump("renders_failed")
        else:
            self.counters.bump("renders_done")

    def reset(self) -> None:
        """Faults off and counters to zero; jobs and files stay."""
        self.faults.reset()
        self.counters.reset()

    def close(self) -> None:
        """Wait for renders in progress (each bounded by its timeout), drop queued ones, and
        remove the work folder if the stand-in made it."""
        for timer, later in self._timers:  # renders not yet started: dropped like queued ones
            timer.cancel()
            later.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._own_dir is not None:
            self._own_dir.cleanup()


def _wants_sound(spec: ModelSpec, request: CreateRequest) -> bool:
    """The result keeps the source's sound: the model can (``Output.sound``) and the body asks
    through the model's own field."""
    field = spec.keep_audio_field
    return spec.output.sound and field is not None and request.fields.get(field) is True


def _result_size(
    spec: ModelSpec, request: CreateRequest, info: MediaInfo, config: StandInConfig
) -> tuple[int, int]:
    """The result's size as ``spec``'s model chooses it for the input ``info``, from the body's
    option or its default; the stand-in's output box stands for the service's own choice."""
    options = {option.name: spec.option(request.fields, option.name) for option in spec.options}
    box = (config.output_long_side, config.output_short_side)
    return spec.output.size_for(options, info.display_width, info.display_height, box)


def _reference_count(spec: ModelSpec, request: CreateRequest) -> int:
    """How many reference images the body carried (for the log, and to spare a job that has
    any from the look_drift fault)."""
    if spec.references is None:
        return 0
    value = request.fields.get(spec.references.field)
    return len(value) if isinstance(value, list) else 0
