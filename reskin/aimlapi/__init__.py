"""The AI/ML API: request and answer models, the retry policy, the async client, polling."""

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest, Generation, JobState

__all__ = ["AimlapiClient", "CreateRequest", "Generation", "JobState"]
