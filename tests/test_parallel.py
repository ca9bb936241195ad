"""Where tile jobs run (this thread, threads, a Dask LocalCluster) and the striped decode order:
none of it may change a byte of the output."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_raster
from ldmrsic_cli.main import main
from ldmrsic_core import compress_raster, decompress_raster, read_header
from ldmrsic_core.pipeline.executors import TileRunner
from ldmrsic_core.pipeline.schedule import context_box, stripes
from ldmrsic_core.tiling import Box, Span, TilePlan


def _slow_square(x: int) -> int:
    time.sleep(0.001 * (x % 3))
    return x * x


def test_map_ordered_keeps_the_order_and_a_bounded_number_in_flight():
    runner = TileRunner(jobs=3)
    pulled, consumed, most_ahead = [0], [0], [0]

    def items():
        for i in range(40):
            pulled[0] += 1
            most_ahead[0] = max(most_ahead[0], pulled[0] - consumed[0])
            yield (i,)

    try:
        out = []
        for value in runner.map_ordered(_slow_square, items()):
            out.append(value)
            consumed[0] += 1
    finally:
        runner.close()
    assert out == [i * i for i in range(40)]
    assert most_ahead[0] <= runner.ahead + 1


def test_jobs_run_concurrently_on_threads():
    runner = TileRunner(jobs=2)
    seen = set()

    def record(i):
        seen.add(threading.get_ident())
        time.sleep(0.02)
        return i

    try:
        assert list(runner.map_ordered(record, ((i,) for i in range(8)))) == list(range(8))
    finally:
        runner.close()
    assert len(seen) == 2 and threading.get_ident() not in seen


@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:230, 0:300]
    data = np.stack([(np.sin(xx / (9 + b)) * np.cos(yy / 7) * 80 + 120 + rng.normal(0, 6, xx.shape))
                     for b in range(3)]).clip(0, 255).astype("uint8")
    data[:, :20, :35] = 0  # a nodata corner
    return write_raster(tmp_path / "scene.tif", data, nodata=0)


def _read(path):
    with rasterio.open(path) as src:
        return src.read()


@pytest.mark.slow
def test_the_same_bytes_and_pixels_for_any_jobs_and_a_dask_local_cluster(scene, tiny_weights, paired_enhancer,
                                                                          tmp_path):
    """The issue's check: a LocalCluster of two workers writes the single-process file, byte for byte."""
    runs = {"inline": {"jobs": 1}, "threads": {"jobs": 3}, "dask": {"workers": 2}}
    packed, decoded = {}, {}
    for name, where in runs.items():
        out = compress_raster(scene, tmp_path / f"{name}.ldmr", model=tiny_weights, tile=64, overlap=16,
                              device="cpu", **where).output
        packed[name] = out.read_bytes()
        result = decompress_raster(out, tmp_path / f"{name}.tif", model=tiny_weights, device="cpu", **where)
        assert result.enhancer == "tiny-enh"
        decoded[name] = _read(result.output)
    assert len(read_header(tmp_path / "inline.ldmr").plan) == 30
    assert packed["threads"] == packed["inline"] and packed["dask"] == packed["inline"]
    assert np.array_equal(decoded["threads"], decoded["inline"]) and np.array_equal(decoded["dask"], decoded["inline"])


def test_batches_are_cut_from_the_stream_in_order_whatever_the_jobs():
    seen = []

    def record(settings, batch):
        seen.append((settings, [i for (i,) in batch]))
        return [i * i for (i,) in batch]

    for jobs in (1, 3):
        runner = TileRunner(jobs=jobs)
        try:
            assert list(runner.map_batched(record, "s", ((i,) for i in range(11)), 4)) == [i * i for i in range(11)]
        finally:
            runner.close()
    assert sorted(seen) == sorted(2 * [("s", [0, 1, 2, 3]), ("s", [4, 5, 6, 7]), ("s", [8, 9, 10])])


def test_the_tile_batch_defaults_to_one_on_the_cpu_and_more_on_a_gpu():
    import torch

    from ldmrsic_core import defaults
    from ldmrsic_core.pipeline.executors import resolve_tile_batch

    assert resolve_tile_batch(None, torch.device("cpu")) == 1
    assert resolve_tile_batch(None, torch.device("cuda")) == defaults.TILE_BATCH_GPU > 1
    assert resolve_tile_batch(5, torch.device("cpu")) == 5


@pytest.mark.slow
def test_tiles_coded_in_batches_decode_exactly_in_any_batches(scene, tiny_weights, paired_enhancer, tmp_path):
    """The GPU pipeline's code path on the CPU: batches of tiles (edge tiles of other sizes among them)
    give the same bytes on any number of jobs; any decoder's batches give the same latents (a latent
    checksum per tile) and pixels within the float transforms' last bits."""
    packed = {}
    for jobs in (1, 3):
        packed[jobs] = compress_raster(scene, tmp_path / f"b{jobs}.ldmr", model=tiny_weights, tile=64, overlap=16,
                                       device="cpu", tile_batch=4, jobs=jobs).output
    assert packed[1].read_bytes() == packed[3].read_bytes()
    single = compress_raster(scene, tmp_path / "single.ldmr", model=tiny_weights, tile=64, overlap=16, device="cpu")
    assert single.tiles == 30 and abs(single.bytes - packed[1].stat().st_size) < 0.01 * single.bytes
    for enhance in (False, True):
        decoded = [_read(decompress_raster(packed[1], tmp_path / f"d{batch}{enhance}.tif", model=tiny_weights,
                                           device="cpu", tile_batch=batch, enhance=enhance).output).astype(int)
                   for batch in (1, 5, 30)]
        for other in decoded[1:]:
            assert np.abs(other - decoded[0]).max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("enhance", [False, True])
def test_striped_decoding_gives_the_same_pixels(scene, tiny_weights, paired_enhancer, tmp_path, monkeypatch, enhance):
    """A memory budget of two tile columns splits the 6-column scene into stripes: tiles along the
    stripe borders are decoded twice, the output does not change."""
    import ldmrsic_core.pipeline.decompress as decode

    packed = compress_raster(scene, tmp_path / "s.ldmr", model=tiny_weights, tile=64, overlap=16, device="cpu").output
    plan = read_header(packed).plan
    whole = decompress_raster(packed, tmp_path / "whole.tif", model=tiny_weights, device="cpu", enhance=enhance)
    monkeypatch.setattr(decode, "DECODE_MEMORY", 2 * 8 * 4 * 3 * 64 * 64)  # two columns (schedule.ROWS_HELD = 8)
    striped = decompress_raster(packed, tmp_path / "striped.tif", model=tiny_weights, device="cpu", enhance=enhance)
    assert whole.tiles_read == len(plan) < striped.tiles_read
    assert np.array_equal(_read(whole.output), _read(striped.output))


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 700), width=st.integers(1, 900), size=st.sampled_from([64, 128, 256]),
       overlap=st.sampled_from([0, 16, 32]), columns=st.integers(1, 5), enhancing=st.booleans(),
       corner=st.tuples(st.floats(0, 0.9), st.floats(0, 0.9)))
def test_stripes_cover_every_window_once_with_what_it_needs(height, width, size, overlap, columns, enhancing, corner):
    plan = TilePlan(height, width, size, overlap)
    top, left = int(corner[0] * height), int(corner[1] * width)
    box = Box(Span(top, height), Span(left, width))
    planned = stripes(plan, box, enhancing, columns)
    windows = [w for s in planned for w in s.windows]
    assert sorted(windows, key=lambda w: w[0]) == list(plan.output_windows(box))
    for s in planned:
        assert len({plan.position(o)[1] for o, _ in s.windows}) <= columns
        assert list(s.decode) == sorted(set(s.decode)) and list(s.enhance) == sorted(set(s.enhance))
        blended = {i for _, part in s.windows for i in plan.touching(part)}
        if enhancing:
            assert blended <= set(s.enhance)
            assert {i for e in s.enhance for i in plan.touching(context_box(plan, e))} <= set(s.decode)
        else:
            assert blended <= set(s.decode) and not s.enhance


@pytest.mark.parametrize(("args", "message"), [
    (["--jobs", "0"], "--jobs 0 is invalid"),
    (["--tile-batch", "0"], "--tile-batch 0 is invalid"),
    (["--workers", "0"], "--workers 0 is invalid"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "either --workers"),
    (["--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
])
def test_bad_parallel_options_are_one_line_and_leave_nothing(args, message, scene, tiny_weights, tmp_path, capsys,
                                                           monkeypatch):
    import ldmrsic_core.pipeline.executors as runner

    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT", "1s")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["compress", str(scene), "-o", str(tmp_path / "x.ldmr"), "--model", str(tiny_weights), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_jpeg2000_enhancement_is_the_same_on_threads_and_in_stripes(scene, paired_enhancer, tmp_path, monkeypatch):
    import rasterio.shutil

    import ldmrsic_core.pipeline.enhance as enhance_module

    jp2 = tmp_path / "scene.jp2"
    rasterio.shutil.copy(scene, jp2, driver="JP2OpenJPEG", QUALITY=10, REVERSIBLE="NO")
    options = {"enhancer": "tiny-jp2", "tile": 64, "overlap": 16, "device": "cpu"}
    inline = enhance_module.enhance_raster(jp2, tmp_path / "inline.tif", jobs=1, **options)
    monkeypatch.setattr(enhance_module, "ENHANCE_MEMORY", 2 * 8 * 4 * 3 * 64 * 64)  # stripes of two columns
    striped = enhance_module.enhance_raster(jp2, tmp_path / "striped.tif", jobs=2, **options)
    assert np.array_equal(_read(inline.output), _read(striped.output))
    assert not np.array_equal(_read(inline.output), _read(jp2))  # it did enhance


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_a_scene_coded_on_the_gpu_in_batches_is_deterministic_and_decodes_on_the_cpu(scene, tiny_weights,
                                                                                      paired_enhancer, tmp_path):
    """The issue's promise for the device: the bytes depend on the device and the batch size but are the
    same run after run, and the file decodes on the CPU with every tile's latent checksum matching."""
    runs = [compress_raster(scene, tmp_path / f"g{i}.ldmr", model=tiny_weights, tile=64, overlap=16, device="cuda",
                            tile_batch=4, jobs=jobs).output for i, jobs in enumerate((1, 3))]
    assert runs[0].read_bytes() == runs[1].read_bytes()
    on_cpu = _read(decompress_raster(runs[0], tmp_path / "cpu.tif", model=tiny_weights, device="cpu").output)
    on_gpu = _read(decompress_raster(runs[0], tmp_path / "gpu.tif", model=tiny_weights, device="cuda",
                                     tile_batch=8).output)
    assert np.abs(on_cpu.astype(int) - on_gpu.astype(int)).mean() < 0.5
