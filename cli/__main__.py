"""``python -m ldmrsic_cli`` (what torchrun runs: ``torchrun ... -m ldmrsic_cli train ...``)."""

from ldmrsic_cli.main import run

run()
