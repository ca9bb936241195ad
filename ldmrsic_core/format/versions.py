"""The version policy of ``.ldmr`` files: what this writer writes, what this reader reads, and
which entropy-parameter arithmetic each version implies.

- A **major** version changes the layout or the decoding; a reader refuses majors it does not
  know (with "upgrade ldmrsic-geo"). A **minor** version only adds what older readers of that
  major may ignore.
- 1.x: JSON header, float entropy parameters (decodes, but not bit-exactly across machines).
- 2.x: JSON header, exact fixed-point entropy parameters and a latent CRC32 per band group.
- 3.x: the compact binary header and index (``docs/FORMAT.md``); entropy as in 2.x.
- 4.x: as 3.x, with each band group's symbols in one rANS stream per tile instead of one per
  entropy-model call (``ldmrsic_core/models/single_stream.py``: about 70 bytes less per tile), and
  a header that names bundled models by 8 bytes of their SHA-256 and stores the quality in
  thousandths (54 bytes less).
- 5.x: as 4.x, and tiles without overlap are *joined*: analysed with their neighbours' pixels and
  synthesised from their neighbours' latents (``ldmrsic_core/pipeline/joined.py``: 4–5% fewer bytes
  for a whole image in 512-pixel tiles than 4.x's 16 pixels of overlap, no seams). A 5.x file with
  overlap decodes as 4.x does.
- 6.x: as 5.x, and a band wider than 8 bits may be mapped to the codec's [0, 1] through a fitted
  piecewise-linear curve instead of linearly (``ldmrsic_core/value_curves.py``: its knots are in the
  header), which a 5.x reader would decode to wrong values.
"""

from __future__ import annotations

from typing import Any

from ldmrsic_core.errors import UnsupportedVersionError

#: What this writer writes.
VERSION = (6, 0)
#: Majors this reader decodes.
READABLE_MAJORS = (1, 2, 3, 4, 5, 6)
#: Majors whose header is zlib-compressed JSON behind a 64-byte preamble.
JSON_MAJORS = (1, 2)

#: The first major whose tiles without overlap are joined (``ldmrsic_core/pipeline/joined.py``).
JOINED_MAJOR = 5

#: The entropy-parameter arithmetic of format 1 files: the codec's own float computation.
FLOAT_ENTROPY = "float"
#: That of format 2 and 3 files: exact fixed-point (``ldmrsic_core/models/exact.py``; a new name
#: with any change to its constants).
ENTROPY_SCHEME = "fixed-point-1"


def exact_entropy(header: Any, version: tuple[int, int], name: str) -> bool:
    """Whether a file's entropy parameters (``header.entropy``) are exact (format ≥ 2) or the
    codec's float ones (format 1)."""
    entropy = header.entropy
    if entropy == ENTROPY_SCHEME and version[0] >= 2:
        return True
    if entropy == FLOAT_ENTROPY and version[0] == 1:
        return False
    raise UnsupportedVersionError(
        f"{name} (format {version[0]}.{version[1]}) computes entropy parameters as {entropy!r}, which this "
        f"ldmrsic-geo does not implement (it knows {ENTROPY_SCHEME!r} and, in format 1, {FLOAT_ENTROPY!r}): "
        "upgrade ldmrsic-geo"
    )


def is_joined(overlap: int, version: tuple[int, int]) -> bool:
    """Whether a file's tiles are joined: format 5 or later, without overlap."""
    return overlap == 0 and version[0] >= JOINED_MAJOR


def readable_versions() -> str:
    return " and ".join(f"{m}.x" for m in READABLE_MAJORS)
