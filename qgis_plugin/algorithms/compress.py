"""ldmrsic:compress — a raster → an .ldmr file."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .. import backend
from ..defaults_source import defaults
from .base import LdmrsicAlgorithm, described


class CompressAlgorithm(LdmrsicAlgorithm):
    INPUT, QUALITY, TILE, OVERLAP, BANDS, OUTPUT = "INPUT", "QUALITY", "TILE", "OVERLAP", "BANDS", "OUTPUT"
    TARGET, TARGET_VALUE, REFINE, VALUE_CURVE = "TARGET", "TARGET_VALUE", "REFINE", "VALUE_CURVE"
    #: The choices of VALUE_CURVE, in the order of defaults.VALUE_CURVES.
    VALUE_CURVE_LABELS = {"fitted": "Curve fitted to the band's values", "linear": "Linear from the band's min to max"}
    #: The choices of TARGET: the quality above, or a target the quality is searched for.
    TARGETS = (("Quality above", None), ("Bits per valid pixel", "bpp"), ("Compression ratio (N:1)", "ratio"),
               ("PSNR after decoding (dB)", "psnr"))

    def name(self) -> str:
        return "compress"

    def displayName(self) -> str:  # noqa: N802
        return "Compress raster (learned codec)"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Compresses a raster into an .ldmr file with a learned image codec (ELIC). Typical files are "
                "10–100 times smaller than the GeoTIFF. The .ldmr file keeps the CRS, geotransform, data type, "
                "nodata and band metadata; nodata pixels come back exactly. Decode it with "
                "'Decompress .ldmr file'. The raster is processed tile by tile, so very large scenes work.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(described(QgsProcessingParameterRasterLayer(self.INPUT, "Input raster"),
                                    "The raster to compress (any GDAL-readable file: GeoTIFF, JPEG2000…)."))
        self.addParameter(described(
            QgsProcessingParameterNumber(self.QUALITY, "Quality", QgsProcessingParameterNumber.Double,
                                         defaults.QUALITY, minValue=defaults.MIN_QUALITY,
                                         maxValue=defaults.MAX_QUALITY),
            "1 = smallest file, 5 = best picture; fractions are allowed. On aerial RGB about 0.1 to 0.7 bits "
            "per pixel."))
        self.addParameter(described(
            QgsProcessingParameterEnum(self.TARGET, "Size or quality target", [t[0] for t in self.TARGETS],
                                       defaultValue=0),
            "Instead of the quality: a file size (bits per valid pixel, or a ratio such as 20 for 20:1) or a PSNR "
            "(at the data's peak, after decoding). The quality is found by a search on a sample of the scene; "
            "a target the model cannot reach on this scene fails with the range it can."))
        self.addParameter(described(
            QgsProcessingParameterNumber(self.TARGET_VALUE, "Target value", QgsProcessingParameterNumber.Double,
                                         optional=True, minValue=0.0),
            "The number for the target chosen above (for example 0.3 bits per pixel, 20 for 20:1, 32 dB)."))
        self.addParameter(described(
            QgsProcessingParameterNumber(self.TILE, "Tile size (pixels)", QgsProcessingParameterNumber.Integer,
                                         defaults.TILE, minValue=defaults.TILE_MULTIPLE),
            f"Tiles are stored independently (random access); a multiple of {defaults.TILE_MULTIPLE}. "
            f"{defaults.TILE} is the best trade-off."))
        self.addParameter(described(
            QgsProcessingParameterNumber(self.OVERLAP, "Tile overlap (pixels)", QgsProcessingParameterNumber.Integer,
                                         defaults.OVERLAP, minValue=0),
            "0 (the default) joins the tiles: each is coded and decoded with its neighbours around it, so "
            "borders do not show and no pixel is coded twice. More: overlapping tiles coded alone and "
            "blended on decoding (the layout of files before format 5)."))
        self.addParameter(described(QgsProcessingParameterString(self.BANDS, "Bands", optional=True),
                                    "Bands to keep, in order, e.g. 4,3,2. Empty keeps all."))
        refine = QgsProcessingParameterNumber(self.REFINE, "Encoder effort (refinement steps per tile)",
                                              QgsProcessingParameterNumber.Integer, defaults.REFINE, minValue=0,
                                              maxValue=defaults.MAX_REFINE)
        refine.setFlags(refine.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(described(
            refine, "Optimises each tile's coded representation for this many steps before writing it: a smaller "
                    "file at the same quality (5 steps: about 2% on aerial RGB) for about 10 times the encoding time. "
                    "0 is off. Decoding is unchanged."))
        curve = QgsProcessingParameterEnum(self.VALUE_CURVE, "Value mapping of bands wider than 8 bits",
                                           [self.VALUE_CURVE_LABELS[c] for c in defaults.VALUE_CURVES],
                                           defaultValue=defaults.VALUE_CURVES.index(defaults.VALUE_CURVE))
        curve.setFlags(curve.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(described(
            curve, "How 16-bit, 32-bit and float bands are spread over the codec's range: a curve fitted to each band "
                   "gives its common values more of the range and rare extremes (clouds, glints) less, for a smaller "
                   "file at equal error; nothing is clipped either way. 8-bit bands always keep 0-255."))
        self.add_model("A model from 'ldmrsic-geo models' or a weights file. Empty uses the bundled default.")
        self.add_device()
        self.addParameter(described(
            QgsProcessingParameterFileDestination(self.OUTPUT, "Compressed file", "ldmrsic-geo files (*.ldmr)"),
            "The .ldmr file to write (written to a temporary name and renamed when complete)."))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        source = self.raster_file(parameters, self.INPUT, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        quality = self.parameterAsDouble(parameters, self.QUALITY, context)
        tile = self.parameterAsInt(parameters, self.TILE, context)
        overlap = self.parameterAsInt(parameters, self.OVERLAP, context)
        bands = self.parameterAsString(parameters, self.BANDS, context).strip() or None
        model, device = self.model(parameters, context), self.device(parameters, context)
        label, kind = self.TARGETS[self.parameterAsEnum(parameters, self.TARGET, context)]
        target = None
        if kind is not None:
            if parameters.get(self.TARGET_VALUE) in (None, ""):
                raise QgsProcessingException(f"give a target value for '{label}'")
            target = (kind, self.parameterAsDouble(parameters, self.TARGET_VALUE, context))
        backend.run("compress", dict(input=source, output=output, quality=None if target else quality,
                                     target=target, tile=tile, overlap=overlap, bands=bands,
                                     refine=self.parameterAsInt(parameters, self.REFINE, context),
                                     value_curve=defaults.VALUE_CURVES[
                                         self.parameterAsEnum(parameters, self.VALUE_CURVE, context)],
                                     model=model,
                                     device=device, overwrite=True), feedback)
        return {self.OUTPUT: output}
