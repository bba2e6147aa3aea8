"""``python -m nudge.cli``: the same as the ``nudge`` command."""

from nudge.cli.main import main

main()
