"""Volume 18 of ldmrsic-geo's earlier models: their weights files are in ``weights/``."""
