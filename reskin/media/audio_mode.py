"""Where the final video's sound comes from: the request's ``audio``.

Its own module, not :mod:`reskin.media.sound`'s: the request (and so ``reskin edit``'s thin
client) names it without importing the sound's media stack and its numpy.
"""

from __future__ import annotations

from enum import StrEnum


class AudioMode(StrEnum):
    """Where the final video's sound comes from (:mod:`reskin.media.sound` gives it)."""

    RESTORE = "restore"
    MODEL = "model"
    NONE = "none"
