"""`python -m geopanel …` runs the `geopanel` command."""

from geopanel.cli import main

main()
