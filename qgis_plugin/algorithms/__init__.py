"""One file per Processing algorithm."""
