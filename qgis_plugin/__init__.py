"""ldmrsic-geo QGIS plugin: a Processing provider for learned raster compression."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .plugin import LdmrsicPlugin

    return LdmrsicPlugin(iface)
