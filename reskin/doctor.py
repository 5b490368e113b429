"""What ``reskin doctor`` reports: the tools found and where requests would go."""

from __future__ import annotations

import platform
from importlib.metadata import version

from reskin.media.binaries import FFmpegTools, find_ffmpeg, minimum_text
from reskin.settings import Settings, load_settings


def report(settings: Settings | None = None) -> list[tuple[str, str]]:
    """Name/value lines; the key is reported as set or not, never shown."""
    settings = settings or load_settings()
    tools = find_ffmpeg(settings.ffmpeg_binary)
    av_version = version("av")
    prober = f"ffprobe {tools.ffprobe}" if tools.ffprobe else f"PyAV {av_version}"
    if settings.api_key_block is not None:
        key = f"from the Prefect Secret block '{settings.api_key_block}' (read by each run)"
    elif settings.api_key is None:
        key = "not set (AIMLAPI_API_KEY); `reskin demo` needs none"
    else:
        key = "set"
    service = "the AI/ML API" if settings.uses_default_service else "a stand-in or proxy"
    lines = [
        ("ffmpeg", f"{tools.ffmpeg} ({tools.source}, version {tools.version})"),
        ("ffmpeg version", version_verdict(tools)),
    ]
    if tools.passed_over:
        lines.append(("passed over", f"the system ffmpeg: {tools.passed_over}"))
    return [
        *lines,
        ("prober", prober),
        ("base url", f"{settings.base_url} ({service})"),
        ("api key", key),
        ("model", settings.model),
        ("work dir", str(settings.work_dir)),
        ("python", platform.python_version()),
        ("prefect", version("prefect")),
    ]


def version_verdict(tools: FFmpegTools) -> str:
    """Whether the ffmpeg in use meets the oldest version reskin supports, in words."""
    minimum = minimum_text()
    verdict = tools.meets_minimum
    if verdict is None:
        return f"{tools.version}: not a release number, not checked against the minimum {minimum}"
    if verdict:
        return f"{tools.version}: supported ({minimum} or newer)"
    return f"{tools.version}: too old (reskin needs {minimum} or newer)"
