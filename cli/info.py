"""``ldmrsic-geo info``."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=str))
def info(input):
    """Print an .ldmr file's header and its rate as JSON."""
    from ldmrsic_core import file_info

    click.echo(json.dumps(file_info(input), indent=2))
