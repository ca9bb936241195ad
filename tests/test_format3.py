"""Formats 3 and 4: the compact binary header and index — size, round trip of every header field
in both formats, format 4's short model ids and quality, the CRS as an EPSG code or WKT, and named
failures on damage."""

from __future__ import annotations

import dataclasses
import os
import struct

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import DATA
from ldmrsic_core import compress_raster, file_info
from ldmrsic_core.bands import ValueMapping
from ldmrsic_core.errors import DamagedFileError, LdmrError
from ldmrsic_core.format.binary_header import decode_header, encode_header
from ldmrsic_core.format.container import START_SIZE, ContainerReader, ContainerWriter
from ldmrsic_core.format.header import CodecInfo, EnhancerInfo, Header, MaskKind, RasterInfo
from ldmrsic_core.format.versions import VERSION

#: The issue's budget for a 256² RGB image without georeferencing (start, header, index, trailer).
SMALL_IMAGE_OVERHEAD = 128
#: Format 4 with a bundled codec and enhancer: 12 start, 33 header, 6 index, 8 trailer = 59 (format 3: 113).
SMALL_IMAGE_OVERHEAD_4 = 64


def rgb_image(path, size=256, **profile):
    data = np.random.default_rng(0).integers(0, 255, (3, size, size)).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       photometric="RGB", **profile) as dst:
        dst.write(data)
    return path


@pytest.fixture(scope="module")
def small_file(tmp_path_factory, tiny_weights):
    folder = tmp_path_factory.mktemp("f3")
    return compress_raster(rgb_image(folder / "img.tif"), folder / "img.ldmr", model=tiny_weights, tile=256,
                           device="cpu", enhance=False).output


def test_a_small_image_pays_at_most_128_bytes_of_container(small_file):
    info = file_info(small_file)
    assert info["format_version"] == "{}.{}".format(*VERSION)
    assert info["overhead"]["container_bytes"] == info["tiles"]["container_bytes"] <= SMALL_IMAGE_OVERHEAD
    with ContainerReader(small_file) as reader:
        assert reader.container_bytes == info["overhead"]["container_bytes"]
        assert reader.entries[0].offset == START_SIZE  # payloads start right after magic and version


def full_header(**raster_changes) -> Header:
    raster = RasterInfo(
        width=1000, height=700, dtype="int16", crs_wkt=rasterio.crs.CRS.from_epsg(32633).to_wkt(),
        transform=tuple(from_origin(500000.5, 4000000.25, 10, 10))[:6], nodata=-9999.0, source_bands=(4, 3, 2, 8),
        descriptions=("nir", None, "blue", "x"), colorinterp=("gray", "undefined", "alpha", "nir"),
        units=("m", None, None, "dn"), scales=(0.5, 1.0, 1.0, 2.0), offsets=(0.0, -1.5, 0.0, 0.0),
        tags={"AREA_OR_POINT": "Area", "ü": "ß"}, band_tags=({"a": "1"}, {}, {}, {"b": "2"}),
        mask_kind=MaskKind.NODATA)
    raster = dataclasses.replace(raster, **raster_changes)
    return Header(raster=raster, codec=CodecInfo(None, "ab" * 32, None, 3.272, None), tile_size=512,
                  overlap=16, groups=((0, 1, 2), (3,)), mappings=tuple(ValueMapping(-100.0 * i, 3000.5 + i)
                                                                     for i in range(4)),
                  clipped=(0, 5, 0, 300), software="ldmrsic-geo 0.1.0", extra={"note": [1, 2]},
                  enhancer=EnhancerInfo(None, "cd" * 32, None), entropy="fixed-point-1")


@pytest.mark.parametrize("version", [(3, 0), (4, 0)])
def test_every_header_field_round_trips(version):
    header = full_header()
    assert decode_header(encode_header(header, version=version), version=version) == header
    names = {"ab" * 32: ("codec-x", "elic-small"), "cd" * 32: ("enh-y", "men-small")}
    named = decode_header(encode_header(header, version=version), names, version)
    assert (named.codec.model, named.codec.config, named.enhancer.model) == ("codec-x", "elic-small", "enh-y")
    bare = dataclasses.replace(header, raster=dataclasses.replace(
        header.raster, crs_wkt=None, transform=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), nodata=None, mask_kind=MaskKind.NAN,
        dtype="float32"), enhancer=None, extra={})
    assert decode_header(encode_header(bare, version=version), version=version) == bare
    if version == (3, 0):  # format 3 stores any float quality
        odd = dataclasses.replace(header, codec=dataclasses.replace(header.codec, quality=3.2718281828))
        assert decode_header(encode_header(odd, version=version), version=version) == odd


def test_format_4_names_bundled_models_by_8_bytes_of_their_hash_and_the_quality_in_thousandths():
    header = full_header()
    bundled = frozenset({"ab" * 32, "cd" * 32})
    names = {"ab" * 32: ("codec-x", "elic-small"), "cd" * 32: ("enh-y", "men-small"), "ee" * 32: ("z", "elic-tiny")}
    full, short = encode_header(header, version=(4, 0)), encode_header(header, bundled, (4, 0))
    assert len(full) - len(short) == 2 * 24
    assert len(encode_header(header, version=(3, 0))) - len(full) == 6  # f64 quality → two-byte varint
    resolved = decode_header(short, names)  # the installed table gives back the whole hashes and names
    assert (resolved.codec.sha256, resolved.enhancer.sha256) == ("ab" * 32, "cd" * 32)
    assert (resolved.codec.model, resolved.enhancer.model) == ("codec-x", "enh-y")
    unknown = decode_header(short)  # an installation without them keeps what the file says
    assert (unknown.codec.sha256, unknown.enhancer.sha256, unknown.codec.model) == ("ab" * 8, "cd" * 8, None)
    with pytest.raises(ValueError, match="thousandths"):
        encode_header(dataclasses.replace(header, codec=dataclasses.replace(header.codec, quality=3.2718)))


def test_a_file_naming_a_model_this_installation_lacks_says_which_by_its_short_id(tmp_path, tiny_weights):
    from ldmrsic_core import decompress_raster
    from ldmrsic_core.zoo.registry import load_codec

    packed = compress_raster(rgb_image(tmp_path / "img.tif", 64), tmp_path / "img.ldmr", model=tiny_weights,
                             tile=64, device="cpu", enhance=False).output
    sha = load_codec(tiny_weights).sha256
    with ContainerReader(packed) as reader, ContainerWriter(tmp_path / "short.ldmr", 1) as writer:
        writer.add_tile(0, reader.read_tile(0))
        writer.finish(reader.typed_header, frozenset({sha}))  # as if it were bundled
    with pytest.raises(LdmrError, match=f"SHA-256 {sha[:16]}…"):
        decompress_raster(tmp_path / "short.ldmr", tmp_path / "a.tif", device="cpu")
    restored = decompress_raster(tmp_path / "short.ldmr", tmp_path / "b.tif", model=tiny_weights, device="cpu")
    direct = decompress_raster(packed, tmp_path / "c.tif", model=tiny_weights, device="cpu")
    with rasterio.open(restored.output) as a, rasterio.open(direct.output) as b:
        assert np.array_equal(a.read(), b.read())


def test_a_small_image_with_the_bundled_models_pays_at_most_64_bytes_of_container(tmp_path):
    packed = compress_raster(rgb_image(tmp_path / "img.tif"), tmp_path / "img.ldmr", tile=256, quality=2.5,
                             device="cpu").output
    info = file_info(packed)
    assert info["model"]["name"] and info["enhancer"]["name"]  # named from the installed table
    assert info["overhead"]["container_bytes"] <= SMALL_IMAGE_OVERHEAD_4


def test_crs_is_an_epsg_code_when_it_is_one_and_wkt_otherwise():
    epsg = full_header()
    custom_wkt = rasterio.crs.CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=13.3 +k=0.9996 +x_0=500000 +y_0=0 "
                                             "+ellps=WGS84 +units=m +no_defs").to_wkt()
    custom = full_header(crs_wkt=custom_wkt)
    assert len(encode_header(epsg)) + 200 < len(encode_header(custom))  # a varint code against compressed WKT
    assert rasterio.crs.CRS.from_wkt(decode_header(encode_header(epsg)).raster.crs_wkt) == \
        rasterio.crs.CRS.from_epsg(32633)
    assert decode_header(encode_header(custom)).raster.crs_wkt == custom_wkt


def test_a_georeferenced_scene_keeps_its_crs_and_grid(tmp_path, tiny_weights):
    source = DATA / "rgb_uint8_nodata.tif"
    packed = compress_raster(source, tmp_path / "s.ldmr", model=tiny_weights, tile=64, device="cpu",
                             enhance=False).output
    with rasterio.open(source) as src, ContainerReader(packed) as reader:
        header = reader.typed_header
        assert rasterio.crs.CRS.from_wkt(header.raster.crs_wkt) == src.crs
        assert header.raster.transform == tuple(src.transform)[:6] and header.raster.nodata == src.nodata


@pytest.mark.parametrize("cut", ["start", "tile", "index", "trailer"])
def test_truncation_is_named(small_file, tmp_path, cut):
    data = small_file.read_bytes()
    with ContainerReader(small_file) as reader:
        at = {"start": 10, "tile": START_SIZE + 10, "index": reader.size - 12, "trailer": reader.size - 3}[cut]
    path = tmp_path / "cut.ldmr"
    path.write_bytes(data[:at])
    with pytest.raises(DamagedFileError, match="truncated|damaged"):
        ContainerReader(path)


@pytest.mark.parametrize("where", [9, START_SIZE + 5, -30, -10, -6, -2])
def test_a_flipped_bit_anywhere_outside_the_tiles_is_named(small_file, tmp_path, where):
    data = bytearray(small_file.read_bytes())
    data[where] ^= 0x04
    path = tmp_path / "flip.ldmr"
    path.write_bytes(bytes(data))
    if where == START_SIZE + 5:  # inside the tile: the reader opens, the tile read names it
        with ContainerReader(path) as reader, pytest.raises(LdmrError, match="damaged tile 0"):
            reader.read_tile(0)
        return
    with pytest.raises(LdmrError, match="damaged|version|checksum"):
        ContainerReader(path)


def test_a_hostile_trailer_is_bounded(small_file, tmp_path):
    data = small_file.read_bytes()
    path = tmp_path / "hostile.ldmr"
    for length in (2**32 - 1, 2**31, len(data)):
        path.write_bytes(data[:-8] + struct.pack("<II", length, 0))
        with pytest.raises(DamagedFileError, match="beyond the end|checksum"):
            ContainerReader(path)


def test_tiles_written_out_of_order_land_in_tile_order(tmp_path):
    header = full_header(width=1000, height=700)
    count = len(header.plan)
    path = tmp_path / "o.ldmr"
    with ContainerWriter(path, count) as writer:
        for index in reversed(range(count)):
            writer.add_tile(index, bytes([index]) * (index + 1))
        writer.finish(header)
    with ContainerReader(path) as reader:
        assert [reader.read_tile(i) for i in range(count)] == [bytes([i]) * (i + 1) for i in range(count)]
        assert reader.typed_header == header
    os.truncate(path, path.stat().st_size - 1)
    with pytest.raises(DamagedFileError):
        ContainerReader(path)
