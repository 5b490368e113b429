"""Many edits at once, Prefect-free: what a batch asks for, which clips it holds, which of them
are already done, how many may run and what they may cost, and the record of how each ended.

=================  ==========================================================================
``request.py``     :class:`BatchRequest` (the ``edit-batch`` flow's form), rows and the result
``places.py``      local folders and ``s3://`` prefixes: outputs in them, where results are kept
``manifest.py``    the clips of an inbox (a folder or an S3 prefix) or of a CSV/JSONL manifest
``reuse.py``       a clip already done with the same request: skipped, not paid again
``plan.py``        the plan made before anything is sent: clips, those done, expected lengths
``budget.py``      the credit budget: spent, in flight, and when to stop sending
``schedule.py``    run the clips, ``max_parallel`` at a time, within the budget
``liveness.py``    a clip's run elsewhere that died without a word: when to give up on it
``report.py``      the results manifest (JSONL and CSV, atomic), the table, child summaries
=================  ==========================================================================
"""
