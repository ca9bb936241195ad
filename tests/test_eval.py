"""Evaluation: Bjøntegaard deltas on textbook cases, codec adapters, and ``eval`` end to end."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import rasterio

from conftest import DATA
from ldmrsic_cli.main import main
from ldmrsic_core.evaluation.bjontegaard import bd_psnr, bd_rate, psnr_gain_at_equal_rate
from ldmrsic_core.evaluation.codecs import CLASSIC
from ldmrsic_core.evaluation.runner import read_image, run_classic

RATES = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNR = [26.0, 28.5, 31.0, 33.2, 35.1]


def test_bd_rate_of_a_curve_that_needs_half_the_bits_is_minus_50_percent():
    assert bd_rate(RATES, PSNR, [r / 2 for r in RATES], PSNR) == pytest.approx(-50.0, abs=1e-9)
    assert bd_rate(RATES, PSNR, [r * 1.25 for r in RATES], PSNR) == pytest.approx(25.0, abs=1e-9)
    assert bd_rate(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-12)


def test_bd_psnr_of_a_curve_one_db_higher_is_one_db():
    assert bd_psnr(RATES, PSNR, RATES, [p + 1 for p in PSNR]) == pytest.approx(1.0, abs=1e-9)
    # Consistency: a straight line in log-rate, shifted by a factor 2, gains slope·log10(2) dB.
    slope = 10.0
    line = [20 + slope * math.log10(r) for r in RATES]
    assert bd_psnr(RATES, line, [r / 2 for r in RATES], line) == pytest.approx(slope * math.log10(2), abs=1e-9)


def test_bd_without_overlap_is_nan_and_bad_curves_are_refused():
    assert math.isnan(bd_rate(RATES, PSNR, RATES, [p + 50 for p in PSNR]))
    with pytest.raises(ValueError):
        bd_rate([0.1], [20.0], RATES, PSNR)


def test_psnr_gain_at_equal_rate_interpolates_in_log_rate_and_is_nan_outside_the_curve():
    line = [20 + 10 * math.log10(r) for r in RATES]
    middle = math.sqrt(RATES[0] * RATES[1])  # halfway between two points in log-rate
    reversed_curve = (RATES[::-1], line[::-1])  # the reference's points in any order
    assert psnr_gain_at_equal_rate(*reversed_curve, middle, 20 + 10 * math.log10(middle) + 0.5) == pytest.approx(0.5)
    assert psnr_gain_at_equal_rate(RATES, line, RATES[2], line[2] - 1) == pytest.approx(-1.0)
    assert math.isnan(psnr_gain_at_equal_rate(RATES, line, RATES[0] / 2, 30.0))
    assert math.isnan(psnr_gain_at_equal_rate(RATES, line, RATES[-1] * 2, 30.0))


@pytest.mark.parametrize("name", list(CLASSIC))
def test_each_classic_codec_round_trips_and_reports_bytes(name):
    with rasterio.open(DATA / "naip_uint8_4band.tif") as src:
        image = np.ascontiguousarray(src.read([1, 2, 3]).transpose(1, 2, 0))
    codec = CLASSIC[name]
    sizes, psnr = [], []
    for setting in (codec.settings[1], codec.settings[-1]):
        data = codec.encode(image, setting)
        decoded = codec.decode(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        sizes.append(len(data))
        psnr.append(10 * np.log10(255**2 / np.mean((decoded.astype(float) - image) ** 2)))
    assert 0 < sizes[0] < sizes[1] and psnr[0] < psnr[1]  # a better setting costs bytes and gains quality
    assert psnr[1] > 28


@pytest.mark.parametrize("name", [n for n, c in CLASSIC.items() if c.bits > 8])
def test_a_deep_codec_round_trips_samples_of_its_depth(name):
    codec = CLASSIC[name]
    with rasterio.open(DATA / "naip_uint8_4band.tif") as src:  # 8-bit texture spread over the codec's depth
        image = (src.read([1, 2, 3]).transpose(1, 2, 0).astype(np.uint32) << (codec.bits - 8)).astype(np.uint16)
    decoded = codec.decode(codec.encode(np.ascontiguousarray(image), codec.settings[-1]))
    assert decoded.shape == image.shape and decoded.dtype == np.uint16
    peak = (1 << codec.bits) - 1
    assert decoded.max() <= peak and 10 * np.log10(peak**2 / np.mean((decoded.astype(float) - image) ** 2)) > 28


def test_an_image_wider_than_8_bits_reaches_each_codec_at_its_depth(tmp_path):
    """A faint 16-bit ramp (a 300th of the range): 8-bit samples cannot hold it, JPEG2000's 16-bit can."""
    y, x = np.mgrid[0:96, 0:96]
    band = (30000 + 200 * np.sin(x / 9.0) * np.cos(y / 13.0)).astype(np.uint16)
    band[0, 0], band[-1, -1] = 0, 65535  # the min–max mapping spans the whole range
    path = tmp_path / "faint.tif"
    with rasterio.open(path, "w", driver="GTiff", width=96, height=96, count=1, dtype="uint16") as dst:
        dst.write(band[None])
    image = read_image(path)
    assert image.bits == 16
    error = {}
    for name in ("jpeg2000", "webp"):
        _, decoded, _, _ = run_classic(name, image, CLASSIC[name].settings[-1])
        error[name] = float(np.abs(decoded - image.unit)[:, 2:-2, 2:-2].max())
    assert error["webp"] >= 0.3 / 255  # rounded to 8 bits: the ramp's detail is lost
    assert error["jpeg2000"] < 0.3 / 255


def test_eval_on_two_images_writes_csv_plots_and_report(tmp_path, tiny_weights, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    with rasterio.open(DATA / "naip_uint8_4band.tif") as src:
        rgb = src.read([1, 2, 3])
    for i, img in enumerate([rgb, rgb[:, :, ::-1]]):
        with rasterio.open(folder / f"img{i}.png", "w", driver="PNG", width=img.shape[2], height=img.shape[1],
                           count=3, dtype="uint8") as dst:
            dst.write(np.ascontiguousarray(img))
    out = tmp_path / "report"
    code = main(["--quiet", "eval", str(folder), "--out", str(out), "--codecs", "ldmrsic-noenh,jpeg2000,webp",
                 "--qualities", "1,3,5", "--model", str(tiny_weights), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    for name in ("per_image.csv", "rd_table.csv", "bd.csv", "psnr_bpp.png", "msssim_bpp.png", "crops.png",
                 "report.md", "report.html"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * (3 + 7 + 7)
    ours = [r for r in rows if r["codec"] == "ldmrsic-noenh"]
    for r in ours:  # whole-file bytes, measured
        assert float(r["bpp"]) == pytest.approx(8 * int(r["bytes"]) / (110 * 130))
    with open(out / "bd.csv") as f:
        bd = {r["codec"]: r for r in csv.DictReader(f)}
    assert set(bd) == {"ldmrsic-noenh", "webp"} and all(r["reference"] == "jpeg2000" for r in bd.values())
    assert "BD-rate" in (out / "report.md").read_text()
    # The report folder is not replaced without --overwrite.
    assert main(["--quiet", "eval", str(folder), "--out", str(out), "--codecs", "jpeg2000"]) == 1
    assert "exists" in capsys.readouterr().err


def test_eval_jobs_caps_the_metric_threads_and_our_tile_jobs_and_restores_torch(tmp_path, tiny_weights, capsys,
                                                                               monkeypatch):
    import torch

    import ldmrsic_core
    from ldmrsic_core.evaluation import runner

    folder = tmp_path / "images"
    folder.mkdir()
    ramp = np.add.outer(np.arange(200), np.arange(200)).astype(np.uint8)  # over 160 px: MS-SSIM runs in torch
    with rasterio.open(folder / "ramp.png", "w", driver="PNG", width=200, height=200, count=3,
                       dtype="uint8") as dst:
        dst.write(np.stack([ramp, ramp.T, 255 - ramp]))
    seen_threads, seen_jobs = set(), []
    scores = runner.scores
    monkeypatch.setattr(runner, "scores", lambda *a: (seen_threads.add(torch.get_num_threads()), scores(*a))[1])
    for name in ("compress_raster", "decompress_raster"):
        original = getattr(ldmrsic_core, name)
        monkeypatch.setattr(ldmrsic_core, name, lambda *a, _f=original, **k: (seen_jobs.append(k["jobs"]),
                                                                               _f(*a, **k))[1])
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    code = main(["--quiet", "eval", str(folder), "--out", str(tmp_path / "report"), "--codecs",
                 "ldmrsic-noenh,jpeg2000", "--qualities", "1", "--model", str(tiny_weights), "--device", "cpu",
                 "--jobs", str(target)])
    assert code == 0, capsys.readouterr().err
    assert seen_threads == {target} and seen_jobs == [target, target]
    assert torch.get_num_threads() == before
    with open(tmp_path / "report" / "per_image.csv") as f:
        assert all(not math.isnan(float(r["ms_ssim"])) for r in csv.DictReader(f))
    # Zero threads is refused in one line, before any work.
    assert main(["--quiet", "eval", str(folder), "--out", str(tmp_path / "other"), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err and not (tmp_path / "other").exists()
