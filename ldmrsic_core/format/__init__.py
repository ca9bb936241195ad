"""The .ldmr file format: container, header, tile payloads, version policy and file info."""
