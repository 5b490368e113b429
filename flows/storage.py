"""Where the flows' results would be kept: nowhere, they are not persisted.

An edit's result is its output file and the journal's record, and a flow's return value is read
in the process that ran it (``persist_result=False``). Without a ``result_storage`` of its own,
Prefect still looks the server's default storage block up for each flow run, through a new
client: two API reads and two TLS contexts, about 65 ms of every run (``docs/bench.md``, the
command line). A folder is resolved locally instead, and nothing is written to it.
"""

from pathlib import Path

from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

#: ``result_storage`` of every flow: Prefect's own local storage folder (never written).
NOT_PERSISTED = Path(PREFECT_LOCAL_STORAGE_PATH.value())
