"""What the ldmrsic algorithms share: parameter helpers and the device/model parameters."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterString,
)

from ..defaults_source import defaults

DEVICES = list(defaults.DEVICES)


def described(parameter: QgsProcessingParameterDefinition, help_text: str) -> QgsProcessingParameterDefinition:
    parameter.setHelp(help_text)
    return parameter


class LdmrsicAlgorithm(QgsProcessingAlgorithm):
    MODEL = "MODEL"
    DEVICE = "DEVICE"

    def createInstance(self):  # noqa: N802
        return type(self)()

    def helpUrl(self) -> str:  # noqa: N802
        return ""

    def add_model(self, model_help: str) -> None:
        self.addParameter(described(
            QgsProcessingParameterString(self.MODEL, "Model (name or weights file)", optional=True),
            model_help))

    def add_device(self) -> None:
        device = QgsProcessingParameterEnum(self.DEVICE, "Device", options=DEVICES, defaultValue=0)
        device.setFlags(device.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(described(device, "auto uses a CUDA GPU when torch sees one, else the CPU."))

    def device(self, parameters, context) -> str:
        return DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]

    def model(self, parameters, context) -> str | None:
        return self.parameterAsString(parameters, self.MODEL, context).strip() or None

    def raster_file(self, parameters, name: str, context) -> str:
        """The file behind a raster-layer parameter (ldmrsic-geo reads files through GDAL)."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise QgsProcessingException(f"{name}: choose a raster layer or file")
        path = layer.source().split("|")[0]
        if not os.path.isfile(path):
            raise QgsProcessingException(f"{layer.name()} is not a raster file on disk ({path}); "
                                         "save it as a GeoTIFF first")
        return path
