"""What ``reskin doctor`` reports: the tools found and where requests would go."""

from __future__ import annotations

import platform
from importlib.metadata import version

from reskin.media.binaries import find_ffmpeg
from reskin.settings import Settings, load_settings


def report(settings: Settings | None = None) -> list[tuple[str, str]]:
    """Name/value lines; the key is reported as set or not, never shown."""
    settings = settings or load_settings()
    tools = find_ffmpeg(settings.ffmpeg_binary)
    av_version = version("av")
    prober = f"ffprobe {tools.ffprobe}" if tools.ffprobe else f"PyAV {av_version}"
    if settings.api_key is None:
        key = "not set (AIMLAPI_API_KEY); `reskin demo` needs none"
    else:
        key = "set"
    service = "the AI/ML API" if settings.uses_default_service else "a stand-in or proxy"
    return [
        ("ffmpeg", f"{tools.ffmpeg} ({tools.source}, version {tools.version})"),
        ("prober", prober),
        ("base url", f"{settings.base_url} ({service})"),
        ("api key", key),
        ("model", settings.model),
        ("work dir", str(settings.work_dir)),
        ("python", platform.python_version()),
        ("prefect", version("prefect")),
    ]
