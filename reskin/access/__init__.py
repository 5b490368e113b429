"""What a run may touch: a user's URLs reach public addresses only, local files stay in the
allowed folders (docs/security.md).

Runs come from the command line, the Prefect UI's form, manifests others wrote and schedules,
and run on workers inside a team's network. What a user hands in (the input, the reference
images, the output, a batch's inbox, manifest and rows) is checked here:

- **URLs**: ``https://`` only (``http://`` with ``RESKIN_ALLOW_HTTP``); every connection, each
  redirect hop included, goes to a public address unless ``RESKIN_ALLOWED_HOSTS`` names the
  host or ``RESKIN_ALLOWED_NETWORKS`` holds the address. The check is on the address actually
  connected to: :class:`GuardedBackend` resolves the name once, checks every address it got
  and connects to a checked one (TLS still names the host), so a name that resolves to
  127.0.0.1, or to a public address first and a private one next, gets nowhere. Any other
  scheme (``file://``, ``ftp://``, ...) is refused; ``s3://`` goes to the storage the settings
  name. :func:`check_url` is the same rule without connecting (literal addresses and
  ``localhost`` refused at once; with a ``resolver``, names too).
- **Local paths**: with ``RESKIN_ALLOWED_DIRS`` set, a path is resolved (links followed, ``..``
  folded) and must lie in one of its folders (:func:`check_path`); unset, anything this user
  can read or write (the command line's default).

Each refusal is one :class:`~reskin.errors.AccessError` line naming what was refused and the
setting that allows it, raised before anything is read from it or paid. The service's own URLs
(``AIMLAPI_BASE_URL``, the result URLs it answers, a presigned S3 URL) are not a user's and are
not checked: a stand-in on loopback works with the default settings.

Call :func:`check_request` (one edit) or :func:`check_location` (one place) before a run
starts, and fetch a user's URL through :func:`reskin.access.transport.guarded_transport`
(httpx and anyio are imported there only, so the command line's checks stay light).
"""

from reskin.access.addresses import Address, address_problem
from reskin.access.paths import check_location, check_path, check_request
from reskin.access.rules import Access, Network
from reskin.access.urls import Lookup, check_url, check_url_resolved, shown_url, system_lookup

__all__ = [
    "Access",
    "Address",
    "Lookup",
    "Network",
    "address_problem",
    "check_location",
    "check_path",
    "check_request",
    "check_url",
    "check_url_resolved",
    "shown_url",
    "system_lookup",
]
