"""reskin: re-style a video from a text prompt through the AI/ML API.

This package is the Prefect-free core: settings, the API client, media (ffmpeg), the local
stand-in of the API and the command line. The Prefect layer lives in ``flows/`` and ``tasks/``.
"""

__version__ = "0.1.0"
