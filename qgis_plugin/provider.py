"""The ``ldmrsic`` Processing provider and its setting (an external Python environment)."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider

from .algorithms.compress import CompressAlgorithm
from .algorithms.decompress import DecompressAlgorithm
from .algorithms.enhance import EnhanceAlgorithm
from .algorithms.evaluate import EvaluateAlgorithm
from .backend import EXTERNAL_PYTHON_SETTING

try:  # the Processing options dialog (absent when the Processing plugin is not loaded)
    from processing.core.ProcessingConfig import ProcessingConfig, Setting
except ImportError:  # pragma: no cover
    ProcessingConfig = Setting = None


class LdmrsicProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "ldmrsic"

    def name(self) -> str:
        return "ldmrsic-geo"

    def longName(self) -> str:  # noqa: N802
        return "ldmrsic-geo learned compression (ELIC + LDM-RSIC)"

    def load(self) -> bool:
        if ProcessingConfig is not None:
            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(Setting(
                self.name(), EXTERNAL_PYTHON_SETTING,
                "External Python with ldmrsic-geo installed (empty: use QGIS's own Python)", "",
                valuetype=Setting.FILE))
            ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        if ProcessingConfig is not None:
            ProcessingConfig.removeSetting(EXTERNAL_PYTHON_SETTING)

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm in (CompressAlgorithm(), DecompressAlgorithm(), EnhanceAlgorithm(), EvaluateAlgorithm()):
            self.addAlgorithm(algorithm)
