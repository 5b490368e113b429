"""Run one batch, as a process of its own, against the Prefect server in ``PREFECT_API_URL``.

``python tests/ui/run_batch.py '<BatchRequest as JSON>'`` runs the ``edit-batch`` flow and
prints one JSON object on stdout: ``{"flow_run_id": ..., "result": <BatchResult>}``. The
settings (the stand-in's URL and key among them) come from the environment, as for
``reskin edit``. Used by the UI tests, which need the batch's runs on the server they browse.
"""

from __future__ import annotations

import asyncio
import json
import sys

from flows.edit_batch import edit_batch
from reskin.batch.request import BatchRequest, BatchResult


async def run(batch: BatchRequest) -> dict[str, object]:
    state = await edit_batch(batch, return_state=True)
    result = await state.aresult()
    if not isinstance(result, BatchResult):
        raise TypeError(f"edit_batch returned {type(result).__name__}")
    return {
        "flow_run_id": str(state.state_details.flow_run_id),
        "result": result.model_dump(mode="json"),
    }


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: run_batch.py '<BatchRequest as JSON>'")
    done = asyncio.run(run(BatchRequest.model_validate_json(argv[1])))
    print(json.dumps(done))


if __name__ == "__main__":
    main(sys.argv)
