"""The model registry: one :class:`~reskin.registry.spec.ModelSpec` per video-edit model.

==============  ==========================================================================
``spec.py``     the spec: input limits, references, output, billing, body building/reading
``options.py``  a model's own options: types, bounds, defaults, reading user values
``kling.py``    ``klingai/video-o1-video-to-video-edit``
``aleph.py``    ``runway/gen4_aleph``
``luma.py``     ``luma/ray-3.2`` (``type: video_edit``)
``krea.py``     ``krea/krea-wan-14b/video-to-video``
``catalog.py``  the registry itself: :data:`MODELS`, :data:`DEFAULT_MODEL`, :func:`spec_for`
==============  ==========================================================================
"""

from reskin.registry.catalog import DEFAULT_MODEL, MODELS, spec_for
from reskin.registry.spec import ModelSpec

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "spec_for"]
