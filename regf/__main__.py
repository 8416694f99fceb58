"""``python -m regf``: the command-line interface."""

from regf.cli import main

main()
