"""Entry point of ``python -m symgraph.demo``: see ``symgraph.demo.cli``."""

from symgraph.demo.cli import main

raise SystemExit(main())
