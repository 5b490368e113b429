"""``python -m reskin``: the same as the ``reskin`` command."""

from reskin.cli import main

main()
