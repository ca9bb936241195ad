"""``python -m ldmrsic_cli`` (what torchrun runs: ``torchrun ... -m ldmrsic_cli train ...``)."""

from ldmrsic_cli.main import run

if __name__ == "__main__":  # Dask's worker processes import this module again: do not run there
    run()
