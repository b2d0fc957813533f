"""The ``embercast`` command line: one Typer app.

Commands: ``generate`` (a labelled dataset), ``validate`` (check one), ``plot`` (one scenario),
``features`` (a feature set of a dataset), ``catalog`` (datasets, feature sets, lineage),
``sql`` (DuckDB over the registered data), ``run`` (the main job) and ``version``. Bad input (a
wrong option, an invalid value, an unknown class, an unreachable scheduler, an unwritable output)
ends with one ``error: ...`` line on stderr and exit code 2.
``validate`` exits with 1 when it finds problems.
"""

# isort: skip_file
# importing the command modules registers their commands, in the order --help lists them
from embercast.cli import data, features, models, catalog, config, service, backup, broker  # noqa: F401
from embercast.cli import agent, bus, learn  # noqa: F401
from embercast.cli import simulate  # noqa: F401
from embercast.cli.common import EXIT_PROBLEMS, EXIT_USAGE, app

__all__ = ["EXIT_PROBLEMS", "EXIT_USAGE", "app"]
