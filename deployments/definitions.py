"""The two deployments, defined once for ``serve.py`` (one process serves them both).

``prefect.yaml`` at the repository root declares the same two for ``prefect deploy --all`` onto
a ``process`` work pool; ``tests/deployments/test_definitions.py`` holds the two in step.

============================  ===================================================================
``edit-video/edit-video``     one clip; its run form is :class:`~reskin.edit.request.EditRequest`.
                              The batch flow dispatches to it by this name: never rename it.
``edit-batch/nightly``        the batch flow on a cron schedule (02:00 UTC unless told
                              otherwise); its default parameters are one ``BatchRequest``.
============================  ===================================================================

Neither deployment has the API key among its parameters: whatever runs a flow (the serve
process, a worker) reads ``AIMLAPI_API_KEY`` from its own environment.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reskin.batch.request import EDIT_VIDEO_DEPLOYMENT

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

#: ``flow name/deployment name`` of the one-clip deployment: ``BatchRequest.deployment``'s default.
EDIT_VIDEO = EDIT_VIDEO_DEPLOYMENT
#: ``flow name/deployment name`` of the scheduled batch deployment.
NIGHTLY = "edit-batch/nightly"
#: The work pool of ``prefect.yaml`` and ``make up``.
WORK_POOL = "reskin"

EDIT_VIDEO_TAGS = ("reskin",)
NIGHTLY_TAGS = ("reskin", "batch", "nightly")

DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_INBOX = "~/reskin/inbox"
DEFAULT_OUTPUT_DIR = "~/reskin/outbox"
DEFAULT_PROMPT = "turn the scene into a snowy winter night"


@dataclass(frozen=True)
class Nightly:
    """When the batch deployment runs and what it edits (its default parameters).

    The paths are read on the machine that runs the batch flow.
    """

    cron: str = DEFAULT_CRON
    timezone: str = DEFAULT_TIMEZONE
    inbox: str = DEFAULT_INBOX
    output_dir: str = DEFAULT_OUTPUT_DIR
    prompt: str = DEFAULT_PROMPT
    #: ``False`` registers the schedule paused (resume it in the UI or with
    #: ``prefect deployment schedule resume``).
    active: bool = True

    def parameters(self) -> dict[str, Any]:
        """The deployment's default parameters, checked against ``BatchRequest`` now rather
        than at 02:00. ``deployment`` dispatch: each clip is a run of ``edit-video/edit-video``,
        so whatever serves or works that deployment shares the load."""
        from reskin.batch.request import BatchRequest

        batch = {
            "inbox": self.inbox,
            "output_dir": self.output_dir,
            "prompt": self.prompt,
            "dispatch": "deployment",
            "deployment": EDIT_VIDEO,
        }
        BatchRequest.model_validate(batch)
        return {"batch": batch}


def reskin_deployments(nightly: Nightly) -> list[RunnerDeployment]:
    """Both deployments, ready for ``serve(...)``."""
    from prefect.schedules import Cron

    from flows.edit_batch import edit_batch
    from flows.edit_video import edit_video

    one = _made(
        edit_video.to_deployment(
            name=EDIT_VIDEO.split("/")[1],
            tags=list(EDIT_VIDEO_TAGS),
            description="Re-style one video from a text prompt (the form: input, prompt, output).",
        )
    )
    batch = _made(
        edit_batch.to_deployment(
            name=NIGHTLY.split("/")[1],
            schedules=[Cron(nightly.cron, timezone=nightly.timezone, active=nightly.active)],
            parameters=nightly.parameters(),
            tags=list(NIGHTLY_TAGS),
            description="Edit every clip of the inbox (or a manifest), each as a run of "
            f"{EDIT_VIDEO}, on a cron schedule.",
        )
    )
    return [one, batch]


def _made(made: RunnerDeployment | Coroutine[Any, Any, RunnerDeployment]) -> RunnerDeployment:
    """``to_deployment`` returns a coroutine inside an event loop: this module is sync only."""
    from prefect.deployments.runner import RunnerDeployment

    if isinstance(made, RunnerDeployment):
        return made
    made.close()
    raise TypeError("reskin_deployments() must be called outside an event loop")
