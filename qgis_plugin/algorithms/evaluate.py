"""ldmrsic:evaluate — a rate–distortion report for a raster: ldmrsic-geo against JPEG2000 and friends."""

from __future__ import annotations

import os
from pathlib import Path

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputHtml,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .. import backend
from ..defaults_source import defaults
from .base import LdmrsicAlgorithm, described

DEFAULT_QUALITIES = ",".join(f"{q:g}" for q in defaults.EVAL_QUALITIES)
DEFAULT_CODECS = ",".join(c for c in defaults.EVAL_CODECS if c not in ("avif", "jpegxl"))  # no extra install


class EvaluateAlgorithm(LdmrsicAlgorithm):
    INPUT, CODECS, QUALITIES, OUTPUT, REPORT = "INPUT", "CODECS", "QUALITIES", "OUTPUT", "REPORT"

    def name(self) -> str:
        return "evaluate"

    def displayName(self) -> str:  # noqa: N802
        return "Evaluate compression (rate–distortion report)"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Compresses the raster with ldmrsic-geo (with and without enhancement) and with classical codecs "
                "(JPEG2000, WebP, JPEG through GDAL; AVIF and JPEG XL when imagecodecs is installed) at several "
                "settings, and writes a report: bits per pixel, PSNR and MS-SSIM for every setting, BD-rate "
                "against JPEG2000, plots and a side-by-side crop. Use it to decide whether the learned codec pays "
                "off on your imagery.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(described(QgsProcessingParameterRasterLayer(self.INPUT, "Raster"),
                                    "The raster to evaluate on (a tile-sized crop keeps it quick)."))
        self.addParameter(described(QgsProcessingParameterString(self.CODECS, "Codecs", DEFAULT_CODECS),
                                    "Comma-separated: ldmrsic, ldmrsic-noenh, jpeg2000, webp, jpeg, avif, jpegxl."))
        qualities = QgsProcessingParameterString(self.QUALITIES, "ldmrsic-geo qualities", DEFAULT_QUALITIES)
        self.addParameter(described(qualities,
                                    "Quality presets of the learned codec to try (1–5)."))
        self.add_model("The codec, if not the bundled default.")
        self.add_device()
        self.addParameter(described(QgsProcessingParameterFolderDestination(self.OUTPUT, "Report folder"),
                                    "Folder for report.html, the CSV tables and the plots."))
        self.addOutput(QgsProcessingOutputHtml(self.REPORT, "Evaluation report"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        source = self.raster_file(parameters, self.INPUT, context)
        folder = self.parameterAsString(parameters, self.OUTPUT, context)
        codecs = self.parameterAsString(parameters, self.CODECS, context).strip() or DEFAULT_CODECS
        qualities = self.parameterAsString(parameters, self.QUALITIES, context).strip() or DEFAULT_QUALITIES
        model, device = self.model(parameters, context), self.device(parameters, context)
        try:
            quality_values = tuple(float(q) for q in qualities.split(",") if q.strip())
        except ValueError:
            raise QgsProcessingException(f"qualities {qualities!r}: give numbers like 1,2,3") from None
        backend.run("eval", dict(inputs=[Path(source)], out=Path(folder),
                                 codecs=tuple(c.strip() for c in codecs.split(",")), qualities=quality_values,
                                 model=model, device=device, overwrite=True), feedback)
        return {self.OUTPUT: folder, self.REPORT: os.path.join(folder, "report.html")}
