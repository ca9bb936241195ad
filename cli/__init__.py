"""The ``ldmrsic-geo`` command (installed as the ``ldmrsic_cli`` package)."""
