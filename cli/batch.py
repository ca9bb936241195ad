"""Many inputs in one call (``compress A.tif B.tif … --out-dir DIR``, the same for ``decompress``):
one progress bar over every scene's tiles, one summary line per scene and a total. A scene that
fails is reported and the others go on; the exit status is 1 when any failed. Outputs follow the
usual rules: written atomically, never replacing a file without ``--overwrite``."""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from ldmrsic_cli.options import echo_err, one_line, progress_bar

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def plan_jobs(inputs: Sequence[str], output: str | None, out_dir: str | None, suffixes: tuple[str, ...],
              new_suffix: str, default_output: bool = True) -> list[Job]:
    """Inputs (files, folders searched recursively for ``suffixes``, quoted globs) → source and target
    of each scene; one clear error for an impossible combination."""
    from ldmrsic_core.errors import InputError
    from ldmrsic_core.inputs import find_rasters

    paths: list[Path] = []
    for text in inputs:
        matches = sorted(glob.glob(text)) if glob.has_magic(text) and not Path(text).exists() else [text]
        if not matches:
            raise InputError(f"{text} matches no file")
        paths += map(Path, matches)
    sources = find_rasters(paths, suffixes=suffixes, none_found=f"no {' or '.join(suffixes)} files among the inputs")
    if output is not None and (len(sources) > 1 or out_dir is not None):
        raise InputError("-o names one output; with several inputs (or a folder) use --out-dir DIR")
    if out_dir is None and output is None and not default_output:
        raise InputError("give the output: -o FILE for one input, --out-dir DIR for several")
    if output is not None:
        return [Job(sources[0], Path(output))]
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise InputError(f"--out-dir {folder} is not an existing folder; create it first")
    jobs = [Job(s, (folder or s.parent) / (s.stem + new_suffix)) for s in sources]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise InputError(f"{seen[job.target]} and {job.source} would both be written to {job.target}; "
                             "rename one or run them separately")
        seen[job.target] = job.source
    return jobs


def run_jobs(ctx: click.Context, jobs: list[Job], work: Callable[[Job, Progress], str], description: str,
             estimate: Callable[[Job], int]) -> int:
    """Run ``work`` for every job with one progress bar; return the exit status (1 if any failed).
    One job runs as before: its error is the command's error."""
    from ldmrsic_core.errors import LdmrError

    update, close = progress_bar(ctx, description)
    if len(jobs) == 1:
        try:
            echo_err(work(jobs[0], update))
        finally:
            close()
        return 0
    totals = [max(1, estimate(job)) for job in jobs]
    done = [0] * len(jobs)
    failed: list[Path] = []
    try:
        for index, job in enumerate(jobs):
            def progress(count: int, total: int, index: int = index) -> None:
                done[index], totals[index] = count, total
                update(sum(done), sum(totals))

            try:
                line = work(job, progress)
            except (LdmrError, OSError) as exc:
                failed.append(job.source)
                line = f"ldmrsic-geo: error: {job.source}: {one_line(exc)}"
            done[index] = totals[index]
            update(sum(done), sum(totals))
            echo_err(line)
    finally:
        close()
    written = len(jobs) - len(failed)
    echo_err(f"{written} of {len(jobs)} scenes written" + (f"; {len(failed)} failed: "
                                                           + ", ".join(map(str, failed)) if failed else ""))
    return 1 if failed else 0
