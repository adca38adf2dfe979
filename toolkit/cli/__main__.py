"""`python -m toolkit.cli` runs the command line, like the `toolkit` script."""

from toolkit.cli import main

main()
