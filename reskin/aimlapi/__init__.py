"""The AI/ML API: request and answer models (``models.py``), the retry policy (``retry.py``),
the async client (``client.py``) and polling (``polling.py``).

Nothing is imported here: the wire models are read by the model registry, which the settings
read, which the client reads, so an eager import of the client would make a cycle.
"""
