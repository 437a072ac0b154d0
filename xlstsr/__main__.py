"""``python -m xlstsr``: the command line."""

from .cli import main

raise SystemExit(main())
