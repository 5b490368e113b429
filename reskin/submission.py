"""Submit a generation at most once per request: the journal decides, the client sends.

=================  ============================================================================
journal says       what :func:`submit_once` does
=================  ============================================================================
nothing            reserve, create, record the id (released again if surely not accepted)
accepted (fresh)   resume: return the recorded id, send nothing
failed             refuse: the job ended in error; ``force`` pays for a new attempt
reserved           refuse: an earlier create got no answer, the job may exist; ``force`` resends
older than kept    the service has forgotten it: submit anew
=================  ============================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest
from reskin.errors import ApiError, GenerationFailedError, SubmissionUnknownError
from reskin.journal import Journal, Phase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    generation_id: str
    resumed: bool

    @property
    def short_id(self) -> str:
        """The id's first part, enough to tell runs apart in a list."""
        return self.generation_id.split(":", 1)[0][:8]


def earlier_generation(journal: Journal, fp: str, *, force: bool, retention_s: float) -> str | None:
    """The live generation the journal holds for request ``fp``; None when one must be sent.

    Raises instead when the journal says sending again could pay twice for nothing: the job
    failed, or an earlier create got no answer (``force`` overrides both). Called before the
    clip is prepared as well as right before the create, so a refusal costs no ffmpeg run.
    """
    entry = journal.get(fp)
    if entry is None or force:
        return None
    if journal.is_stale(entry, retention_s=retention_s):
        log.info("the earlier generation for this request is past retention: submitting anew")
        return None
    if entry.phase is Phase.FAILED:
        raise GenerationFailedError(
            f"this request already failed at the service ({entry.error}); "
            "rerun with `force` to pay for a new attempt",
            generation_id=entry.generation_id or "",
            name="earlier failure",
            detail=entry.error or "",
        )
    if entry.phase is Phase.RESERVED or entry.generation_id is None:
        raise SubmissionUnknownError(
            "an earlier run sent this request but never learned its generation id, so the "
            "service may already have it; rerun with `force` to submit again (may bill twice)"
        )
    return entry.generation_id


async def submit_once(
    client: AimlapiClient,
    journal: Journal,
    fp: str,
    build_request: Callable[[], CreateRequest],
    *,
    force: bool = False,
    retention_s: float,
) -> Submitted:
    """The generation for request ``fp``: an existing one when the journal has it, else new.

    ``build_request`` is called only when a create is really sent (a data URI is built then,
    never stored).
    """
    earlier = earlier_generation(journal, fp, force=force, retention_s=retention_s)
    if earlier is not None:
        log.info("resuming generation %s instead of submitting again", earlier)
        return Submitted(earlier, resumed=True)
    replace = force or journal.get(fp) is not None  # a stale entry is replaced

    if not journal.reserve(fp, replace=replace):
        raise SubmissionUnknownError(
            "another run is submitting this same request right now; wait for it and rerun"
        )
    try:
        generation = await client.create(build_request())
    except SubmissionUnknownError:
        raise  # the reservation stays: the job may exist
    except ApiError:
        journal.release(fp)  # answered with a refusal or never delivered: nothing to pay for
        raise
    except Exception:
        journal.release(fp)  # building the request failed before anything was sent
        raise
    journal.accepted(fp, generation.id)
    log.info("submitted: generation %s", generation.id)
    return Submitted(generation.id, resumed=False)
