"""The fidelity check: did the result keep the source's motion and layout?

:mod:`~reskin.fidelity.scores` measures a result against its source on small gray thumbnails
(:mod:`reskin.media.thumbs`); :mod:`~reskin.fidelity.report` holds the scores as a result
carries them and the gate that fails a run below the minimum. Prefect-free, like the rest of
the core; the edit's ``fidelity`` stage (:mod:`reskin.edit.fidelity`) runs it.
"""
