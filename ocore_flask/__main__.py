"""``python -m ocore_flask``: the ``ocore`` command, for when the console script is not on PATH."""

from ocore_flask.cli import main

main()
