"""ldmrsic:decompress — an .ldmr file (or a region of it) → a GeoTIFF layer."""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
)

from .. import backend
from .base import LdmrsicAlgorithm, described


class DecompressAlgorithm(LdmrsicAlgorithm):
    INPUT, EXTENT, ENHANCE, COG, OUTPUT = "INPUT", "EXTENT", "ENHANCE", "COG", "OUTPUT"

    def name(self) -> str:
        return "decompress"

    def displayName(self) -> str:  # noqa: N802
        return "Decompress .ldmr file"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Decodes an .ldmr file back to a GeoTIFF that lines up pixel for pixel with the original "
                "(same CRS, extent, data type, nodata and band metadata). Give an extent to decode only that "
                "region: only the tiles it touches are read. Decoded tiles are enhanced by the LDM-RSIC "
                "network the file names (sharper texture at no cost in file size); untick Enhance to get the "
                "codec's output as is.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(described(QgsProcessingParameterFile(self.INPUT, "Compressed file", extension="ldmr"),
                                    "An .ldmr file written by 'Compress raster'."))
        self.addParameter(described(QgsProcessingParameterExtent(self.EXTENT, "Region to decode", optional=True),
                                    "Only this region (in any CRS; it is reprojected to the file's CRS). "
                                    "Empty decodes the whole raster."))
        self.addParameter(described(QgsProcessingParameterBoolean(self.ENHANCE, "Enhance", defaultValue=True),
                                    "Apply the decode-time LDM-RSIC enhancement named in the file."))
        self.addParameter(described(QgsProcessingParameterBoolean(self.COG, "Cloud-Optimized GeoTIFF",
                                                                  defaultValue=False),
                                    "Write a COG with overviews instead of a plain tiled GeoTIFF."))
        self.add_model("The codec's weights, if they are not installed under the name the file records.")
        self.add_device()
        self.addParameter(described(QgsProcessingParameterRasterDestination(self.OUTPUT, "Decoded raster"),
                                    "The GeoTIFF to write; it opens as a layer."))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        source = self.parameterAsFile(parameters, self.INPUT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        enhance = self.parameterAsBoolean(parameters, self.ENHANCE, context)
        cog = self.parameterAsBoolean(parameters, self.COG, context)
        model, device = self.model(parameters, context), self.device(parameters, context)
        bbox = None
        if parameters.get(self.EXTENT):
            crs = QgsCoordinateReferenceSystem.fromWkt(backend.describe(source).get("crs") or "")
            rect = self.parameterAsExtent(parameters, self.EXTENT, context, crs if crs.isValid() else None)
            bbox = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
        backend.run("decompress", dict(input=source, output=output, bbox=bbox, model=model, device=device, cog=cog,
                                       enhance=enhance, overwrite=True), feedback)
        return {self.OUTPUT: output}
