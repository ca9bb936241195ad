"""The plugin object QGIS loads: registers the ``ldmrsic`` Processing provider."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import LdmrsicProvider


class LdmrsicPlugin:
    def __init__(self, iface=None):
        self.iface = iface
        self.provider: LdmrsicProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802
        if self.provider is None:
            self.provider = LdmrsicProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
