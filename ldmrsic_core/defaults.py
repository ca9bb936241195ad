"""The defaults users see, in one place: the library's keyword defaults, the CLI's
``show_default`` values and the QGIS algorithms' parameter defaults all read them.

Plain constants with no imports, so the QGIS plugin can read them in a QGIS whose Python does
not have ldmrsic-geo installed (``scripts/plugin_zip.py`` copies this file into the plugin).
"""

#: Tile sizes are multiples of the codec's total down-sampling (its stride).
TILE_MULTIPLE = 64
#: compress: tile size and overlap in pixels (0: joined tiles, format 5; 16 was format 4's default).
TILE = 512
OVERLAP = 0
#: compress: quality preset, 1.0 (smallest file) to 5.0 (best).
QUALITY = 3.0
MIN_QUALITY = 1.0
MAX_QUALITY = 5.0
#: enhance (JPEG2000*): tile size and overlap of the enhanced windows.
ENHANCE_TILE = 512
ENHANCE_OVERLAP = 32
#: enhance: the classical codecs an enhancer exists for.
ENHANCE_SOURCES = ("jpeg2000",)
#: eval: codecs compared and quality presets of ours.
EVAL_CODECS = ("ldmrsic", "ldmrsic-noenh", "jpeg2000", "webp", "jpeg", "avif", "jpegxl")
EVAL_QUALITIES = (1.0, 2.0, 3.0, 4.0, 5.0)
#: where models run: auto (a CUDA GPU when torch sees one), cpu or cuda.
DEVICES = ("auto", "cpu", "cuda")
#: float precision of the learned transforms: auto (bf16 where the device has it), fp32 or bf16.
PRECISIONS = ("auto", "fp32", "bf16")
PRECISION = "auto"
#: compress/decompress: tiles per model call on a GPU (on the CPU: 1).
TILE_BATCH_GPU = 8
#: compress: how bands wider than 8 bits map to the codec's [0, 1] (ldmrsic_core/value_curves.py).
VALUE_CURVES = ("fitted", "linear")
VALUE_CURVE = "fitted"
#: compress: encoder-side latent refinement steps per tile (0: off) and the most a caller may ask for.
REFINE = 0
MAX_REFINE = 200
