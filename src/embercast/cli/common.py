"""Shared pieces of the command line: the Typer app, one-line errors, settings, engines,
progress bars."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from embercast.config import Settings, get_settings
from embercast.engine.executor import ENGINES
from embercast.errors import EmbercastError
from embercast.store.fs import describe_storage_error, storage_errors

if TYPE_CHECKING:
    from embercast.synth.writer import GenerateSummary

__all__ = ["EXIT_PROBLEMS", "EXIT_USAGE", "app"]

EXIT_PROBLEMS = 1
"""Exit code of ``validate`` when the dataset has problems."""
EXIT_USAGE = 2
"""Exit code for bad input: wrong arguments, invalid values, unusable locations or schedulers."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _OneLineErrors(TyperGroup):
    """Report usage errors as one ``error: ...`` line on stderr (exit 2), not a usage block."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # the message is the help text
                typer.echo(exc.format_message(), err=True)
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                typer.echo(f"error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(EXIT_USAGE if exc.exit_code == EXIT_USAGE else exc.exit_code or 1)
        except Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        except EmbercastError as exc:  # bad input, an unusable location or scheduler, ...
            typer.echo(f"error: {_one_line(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        except OSError as exc:  # a file or location named on the command line cannot be read
            typer.echo(f"error: {_one_line(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        except storage_errors() as exc:  # an object store refused or cannot be reached
            typer.echo(f"error: {_one_line(describe_storage_error(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="embercast",
    help="Fire prediction from a thermal camera, a CO2 sensor and physics-based synthetic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
"""How the library's log records are printed on stderr."""


def configure_logging(verbosity: int) -> None:
    """Send the ``embercast`` loggers to stderr: warnings only (0), progress (1, ``-v``) or
    everything (2, ``-vv``). Other libraries' loggers are left as they are."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logger = logging.getLogger("embercast")
    for handler in list(logger.handlers):
        if getattr(handler, "_embercast_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler._embercast_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)


@app.callback()
def _main(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Log progress on stderr (-v), or everything (-vv)."
        ),
    ] = 0,
) -> None:
    """Fire prediction from a thermal camera, a CO2 sensor and physics-based synthetic data."""
    configure_logging(verbose)


def _fail(message: str) -> NoReturn:
    """Print one ``error:`` line on stderr and exit with :data:`EXIT_USAGE`."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        _fail(f"invalid setting {where!r} (embercast.toml or EMBERCAST_*): {first['msg']}")


def _classes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        _fail(f"invalid --classes {text!r}: expected comma-separated class names")
    return names


def _engine(
    engine: str | None, scheduler: str | None, settings: Settings
) -> tuple[str, str | None]:
    if engine is None:
        engine = "dask" if scheduler is not None else settings.engine
    engine = engine.strip().lower()
    if engine not in ENGINES:
        _fail(f"invalid --engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "dask":
        return engine, scheduler if scheduler is not None else settings.dask_scheduler
    if scheduler is not None:
        _fail(f"--scheduler {scheduler} needs --engine dask")
    return engine, None


class _ProgressBar:
    """A Rich progress bar on stderr that appears when the first task starts.

    Errors found before any work (bad input, unusable location or scheduler) therefore print
    nothing but their one error line.
    """

    def __init__(self, verb: str = "generating", unit: str = "scenarios") -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._verb, self._unit = verb, unit

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn(self._verb),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self._unit),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("generate", total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Stop the bar (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _report(summary: GenerateSummary) -> None:
    if summary.status == "complete":
        typer.echo(f"{summary.out} already holds this dataset; nothing to do")
    else:
        resumed = {
            "resumed": f" (resumed: {summary.tasks_skipped} parts were done)",
            "repaired": " (repaired: the damaged copy was generated again)",
        }.get(summary.status, "")
        typer.echo(
            f"generated {summary.scenarios:,} scenarios, {summary.rows:,} readings, "
            f"{summary.frames:,} frames stored ({summary.frames_rendered:,} rendered) "
            f"in {summary.seconds:.1f} s{resumed}"
        )
    typer.echo(f"dataset: {summary.out}")
    typer.echo(f"content_hash: {summary.content_hash}")
    if summary.features:
        typer.echo(f"features: {summary.features}")


def _groups(text: str) -> tuple[str, ...]:
    from embercast.evaluation.feature_data import SPLITS

    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    bad = [g for g in groups if g not in SPLITS]
    if bad or not groups:
        _fail(f"invalid split groups {text!r}: choose from {', '.join(SPLITS)}")
    return groups


WorkersOption = Annotated[
    int | None, typer.Option(min=1, help="Worker processes [settings: workers].")
]
EngineOption = Annotated[str | None, typer.Option(help="local or dask [settings: engine].")]
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Dask scheduler address tcp://host:port [settings: dask_scheduler]."),
]
"""Options of every command that runs tasks on an engine (defaults from the settings)."""
