"""``python -m feeds``: the same command as ``feeds``."""

from .cli import main

main()
