"""Compress, decompress and enhance rasters tile by tile: tile jobs, their executors, schedules and blending."""
