"""ldmrsic:enhance — JPEG2000*: enhance a raster decoded by a classical codec."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .. import backend
from ..defaults_source import defaults
from .base import LdmrsicAlgorithm, described

SOURCES = list(defaults.ENHANCE_SOURCES)


class EnhanceAlgorithm(LdmrsicAlgorithm):
    INPUT, SOURCE, SOURCE_BPP, ENHANCER, OUTPUT = "INPUT", "SOURCE", "SOURCE_BPP", "ENHANCER", "OUTPUT"

    def name(self) -> str:
        return "enhance"

    def displayName(self) -> str:  # noqa: N802
        return "Enhance JPEG2000-compressed raster"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Restores detail in a raster that was compressed with JPEG2000 (for example a satellite product "
                "or a gdal_translate -of JP2OpenJPEG output), with the LDM-RSIC enhancement network trained on "
                "JPEG2000 output (the paper's JPEG2000*). The result is a GeoTIFF with the same georeferencing, "
                "data type and nodata.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(described(QgsProcessingParameterRasterLayer(self.INPUT, "JPEG2000-decoded raster"),
                                    "A raster whose pixels came out of a JPEG2000 decoder."))
        self.addParameter(described(QgsProcessingParameterEnum(self.SOURCE, "Codec that produced it",
                                                               options=SOURCES, defaultValue=0),
                                    "The classical codec the enhancement model was trained for."))
        self.addParameter(described(
            QgsProcessingParameterNumber(self.SOURCE_BPP, "Bits per pixel it was coded at",
                                         QgsProcessingParameterNumber.Double, 0.0, minValue=0.0),
            "0 = read it from the size of the JPEG2000 file. Needed when the input is a copy in another format."))
        self.addParameter(described(QgsProcessingParameterString(self.ENHANCER, "Enhancement model", optional=True),
                                    "Name or weights file; empty uses the installed one for that codec."))
        self.add_device()
        self.addParameter(described(QgsProcessingParameterRasterDestination(self.OUTPUT, "Enhanced raster"),
                                    "The GeoTIFF to write; it opens as a layer."))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        source = self.raster_file(parameters, self.INPUT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        codec = SOURCES[self.parameterAsEnum(parameters, self.SOURCE, context)]
        enhancer = self.parameterAsString(parameters, self.ENHANCER, context).strip() or None
        device = self.device(parameters, context)
        bpp = self.parameterAsDouble(parameters, self.SOURCE_BPP, context) or None
        backend.run("enhance", dict(input=source, output=output, source=codec, enhancer=enhancer, source_bpp=bpp,
                                    device=device, overwrite=True), feedback)
        return {self.OUTPUT: output}
