"""`python -m app` is the `labledger` command."""

from app.cli import main

main()
