"""Entry point: the click group, error reporting and signal handling."""

from __future__ import annotations

import signal
import sys
import traceback

import click

from ldmrsic_cli.compress import compress
from ldmrsic_cli.decompress import decompress
from ldmrsic_cli.enhance import enhance
from ldmrsic_cli.evaluate import evaluate
from ldmrsic_cli.info import info
from ldmrsic_cli.models import models
from ldmrsic_cli.options import one_line
from ldmrsic_cli.tile import tile
from ldmrsic_cli.train import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--progress-json", is_flag=True,
              help='Progress as JSON lines on stdout ({"done": N, "total": M}), for programs driving the CLI.')
@click.version_option(package_name="ldmrsic-geo")
def cli(quiet, debug, progress_json):
    """Learned compression for geospatial rasters (ELIC codec, LDM-RSIC enhancement)."""


for command in (compress, decompress, enhance, evaluate, info, models, tile, train):
    cli.add_command(command)


#: Flags of the group that users also type after the command name (``compress x.tif --quiet``).
GLOBAL_FLAGS = ("--quiet", "--debug", "--progress-json")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """``argv`` with the group's flags moved in front of the command name (none after ``--`` moves)."""
    cut = argv.index("--") if "--" in argv else len(argv)
    head, tail = argv[:cut], argv[cut:]
    return [a for a in head if a in GLOBAL_FLAGS] + [a for a in head if a not in GLOBAL_FLAGS] + tail


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (clean up, no output) but reported with its own exit status."""


def _terminate(signum, frame):
    raise _Terminated


def interrupted_outcome(argv: list[str]) -> str:
    """What an interruption leaves: a training run checkpoints its last finished step; every other
    command (``train export`` included) removes what it had not finished writing."""
    words = [a for a in argv if not a.startswith("-")]
    if words[:1] == ["train"] and words[1:2] != ["export"]:
        return "the run's last finished step is saved in its last.pt (continue with --resume)"
    return "no output was left behind"


def main(args: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (errors: one line on stderr, no traceback unless --debug)."""
    from ldmrsic_core.errors import LdmrError

    argv = hoist_global_flags(sys.argv[1:] if args is None else list(args))
    debug = "--debug" in argv
    previous = signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C must stop us cleanly even when started from a shell that ignores SIGINT in background jobs.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = cli.main(args=argv, prog_name="ldmrsic-geo", standalone_mode=False)
        return code if isinstance(code, int) else 0  # ctx.exit(N) comes back as N without standalone mode
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:  # click turns KeyboardInterrupt into Abort
        click.echo(f"ldmrsic-geo: interrupted; {interrupted_outcome(argv)}", err=True)
        terminated = isinstance(exc, _Terminated) or isinstance(exc.__cause__, _Terminated)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)  # 143 or 130, as shells report
    except (LdmrError, OSError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"ldmrsic-geo: error: {one_line(exc)}", err=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run() -> None:
    sys.exit(main())
