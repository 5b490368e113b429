"""The services one edit uses, built once per run and handed to every stage.

==============  ============================================================================
``settings``    the run's :class:`~reskin.settings.Settings`, read once
``tools``       the ffmpeg and prober found for it
``journal``     the submission journal (never pay twice)
``client``      one :class:`~reskin.aimlapi.client.AimlapiClient` for every call of the run
``storage``     :class:`~reskin.storage.s3.S3Storage`, made on first use (boto3 is slow to
                load and most runs never touch S3)
==============  ============================================================================

A plain class rather than a dataclass: Prefect walks dataclass parameters of a task looking for
futures, and a client or a boto3 session has no business being walked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

from reskin.aimlapi.client import AimlapiClient, Throttle
from reskin.journal import Journal
from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.settings import Settings
from reskin.storage.s3 import S3Storage


def journal_of(settings: Settings) -> Journal:
    """The journal these settings name: the PostgreSQL database of ``RESKIN_JOURNAL_URL``,
    shared by every machine, else ``<work dir>/journal.sqlite3`` (this machine only)."""
    if settings.journal_url is not None:
        return Journal(settings.journal_url.get_secret_value())
    return Journal(settings.work_dir / "journal.sqlite3")


class Services:
    """What the stages of one edit share; see the module's table."""

    def __init__(
        self,
        settings: Settings,
        *,
        tools: FFmpegTools | None = None,
        journal: Journal | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.settings = settings
        self.tools = tools or find_ffmpeg(settings.ffmpeg_binary)
        self._owns_journal = journal is None
        self.journal = journal or journal_of(settings)
        self._throttle = throttle
        self._client: AimlapiClient | None = None

    @property
    def client(self) -> AimlapiClient:
        """The run's client, opened on first use (a run that resumes a downloaded result
        never needs one, and a missing key is reported only where a call is due)."""
        if self._client is None:
            self._client = AimlapiClient.from_settings(self.settings, throttle=self._throttle)
        return self._client

    @cached_property
    def storage(self) -> S3Storage:
        return S3Storage.from_settings(self.settings)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._owns_journal:
            self.journal.close()  # a PostgreSQL journal's connections go back now

    def __repr__(self) -> str:
        return f"Services(base_url={self.settings.base_url!r}, work_dir={self.settings.work_dir})"


@asynccontextmanager
async def open_services(
    settings: Settings, *, throttle: Throttle | None = None
) -> AsyncIterator[Services]:
    """:class:`Services` for one run, closed at its end."""
    services = Services(settings, throttle=throttle)
    try:
        yield services
    finally:
        await services.aclose()
