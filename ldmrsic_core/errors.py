"""Exception hierarchy: one root, each subclass also inherits the matching builtin."""

from __future__ import annotations


class LdmrError(Exception):
    """Root of every error ldmrsic-geo raises on purpose; the message is one line for the user."""


class InputError(LdmrError, ValueError):
    """Bad input from the user: a missing file, an unsupported raster, an invalid option."""


class OutputExistsError(LdmrError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class OutputError(LdmrError, OSError):
    """An output could not be written (a full disk, an unwritable folder); nothing partial is kept."""


class ContainerError(LdmrError, ValueError):
    """The .ldmr file cannot be read."""


class NotLdmrFileError(ContainerError):
    """The file does not start with the .ldmr magic."""


class UnsupportedVersionError(ContainerError):
    """The file was written in a format version this reader does not know."""


class DamagedFileError(ContainerError):
    """The header or the tile index is truncated or fails its checksum."""


class PayloadError(ContainerError):
    """A tile payload does not parse (a damaged tile that passed its CRC is all but impossible)."""


class DamagedTileError(ContainerError):
    """A tile's payload is truncated or fails its checksum."""

    def __init__(self, index: int, reason: str):
        super().__init__(
            f"damaged tile {index}: {reason}; decode with --allow-damaged to fill it with nodata"
        )
        self.index, self.reason = index, reason

    def __reduce__(self):  # jobs on other processes return these: rebuild from the arguments
        return type(self), (self.index, self.reason)


class LatentMismatchError(DamagedTileError):
    """A tile's decoded latent differs from the encoder's (its stored checksum does not match)."""

    def __init__(self, index: int, groups: list[int]):
        ContainerError.__init__(
            self,
            f"tile {index}: the decoded latent of band group(s) {', '.join(map(str, groups))} differs from the "
            "encoder's (latent checksum mismatch): this machine computed other entropy parameters or the "
            "payload is corrupt; decode with --allow-damaged to fill it with nodata, and please report it",
        )
        self.index, self.groups = index, list(groups)

    def __reduce__(self):
        return type(self), (self.index, self.groups)


class ExactArithmeticError(LdmrError, ValueError):
    """A codec's entropy networks cannot be run in exact fixed-point arithmetic (weights out of range)."""


class WeightsError(LdmrError, ValueError):
    """A weights file is missing, damaged, or not the one a file was compressed with."""


class Cancelled(LdmrError):
    """Raised from a progress callback to stop an operation; no partial output is left."""
