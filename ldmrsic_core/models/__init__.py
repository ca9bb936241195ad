"""Learned codec models and their configuration table.

CompressAI is imported here first, without its data sets and transforms (start-up time:
:mod:`ldmrsic_core.models.compressai_import`), so every module of this package gets it that way.
"""

from ldmrsic_core.models.compressai_import import import_compressai

import_compressai()
