"""``python -m paylink_es``: the ``paylink`` command, for a process that starts another."""

from paylink_es.entrypoints.cli import main

raise SystemExit(main())
