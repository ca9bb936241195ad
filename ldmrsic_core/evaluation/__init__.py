"""Rate–distortion evaluation against classical codecs: ``ldmrsic-geo eval``."""
