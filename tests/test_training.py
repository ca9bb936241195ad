"""Tiles, codec training (few steps, tiny model), kill and resume, DDP on CPU, export and use by name."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio
import torch

from conftest import DATA
from ldmrsic_cli.main import main
from ldmrsic_core.bands import ValueMapping, parse_band_list
from ldmrsic_core.raster_io import describe, open_source, scan_mappings
from ldmrsic_core.tiling import Box, Span
from ldmrsic_core.training.codec_trainer import CodecTrainer, TrainConfig

CLI = [sys.executable, "-m", "ldmrsic_cli", "--quiet"]


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    """Tiles of the real fixtures: uint8 with a nodata collar, int16, uint16, float64."""
    out = tmp_path_factory.mktemp("tiles")
    assert main(["--quiet", "tile", str(DATA), "--out", str(out), "--size", "64", "--stride", "48"]) == 0
    return out


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_tile_maps_bands_like_compress_and_skips_nodata(tiles, tmp_path):
    lines = [json.loads(line) for line in (tiles / "manifest.jsonl").read_text().splitlines()]
    assert {line["file"] for line in lines} == {p.name for p in tiles.iterdir() if p.suffix in (".png", ".tif")}
    by_source = {}
    for line in lines:
        by_source.setdefault(os.path.basename(line["source"]), []).append(line)
    assert set(by_source) == {p.name for p in DATA.glob("*.tif")}
    l8 = by_source["l8_uint16_1band.tif"][0]  # uint16: 16-bit tile, band repeated, fitted curve as compress
    with rasterio.open(tiles / l8["file"]) as t, rasterio.open(DATA / "l8_uint16_1band.tif") as src:
        assert t.dtypes[0] == "uint16" and t.count == 3
        data = src.read(1)
        assert l8["mapping"] == [[float(data.min()), float(data.max())]]
        compressed = scene_mappings(DATA / "l8_uint16_1band.tif")[0]
        assert l8["knots"] == [[list(k) for k in compressed.knots]] and len(compressed.knots) == 2
        window = src.read(1, window=rasterio.windows.Window(*l8["window"]))
        expected = np.rint(compressed.to_unit(window) * 65535)
        np.testing.assert_allclose(t.read(1), expected, atol=1)  # the unit value is float32
        np.testing.assert_array_equal(t.read(3), t.read(1))
    assert all(line["valid_fraction"] >= 0.9 for line in lines)
    collar = by_source["rgb_uint8_nodata.tif"]  # the collar's windows are skipped
    assert 0 < len(collar) < len(range(0, 150 - 64 + 1, 48)) * 5
    assert len(by_source["sr_int16_8band.tif"]) % 3 == 0  # 8 bands → 3 groups per window


def scene_mappings(path):
    """The value mappings ``compress`` fits for a whole raster."""
    with open_source(path) as src:
        info = describe(src, parse_band_list(None, src.count))
        return scan_mappings(src, info, [Box(Span(0, info.height), Span(0, info.width))], curves=True)


def test_tile_linear_value_curve_maps_min_to_max(tmp_path):
    source = DATA / "l8_uint16_1band.tif"
    out = tmp_path / "t"
    assert main(["--quiet", "tile", str(source), "--out", str(out), "--size", "64", "--value-curve", "linear"]) == 0
    line = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
    assert line["knots"] == [[]]
    with rasterio.open(out / line["file"]) as t, rasterio.open(source) as src:
        data = src.read(1)
        window = src.read(1, window=rasterio.windows.Window(*line["window"]))
        expected = np.rint((window - data.min()) / (data.max() - data.min()) * 65535)
        np.testing.assert_allclose(t.read(1), expected, atol=1)


def test_tile_refuses_to_mix_runs_and_empty_inputs(tiles, tmp_path, capsys):
    assert main(["--quiet", "tile", str(DATA), "--out", str(tiles)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--quiet", "tile", str(tmp_path / "empty"), "--out", str(tmp_path / "t")]) == 1
    assert "no raster or image files" in capsys.readouterr().err


def test_few_steps_with_real_bitstream_validation(tiles, tmp_path):
    run = tmp_path / "run"
    assert main(["--quiet", "train", "--tiles", str(tiles), "--out", str(run), "--config", "elic-tiny",
                 "--steps", "4", "--batch", "2", "--crop", "64", "--warmup", "2", "--val", str(tiles),
                 "--val-every", "2", "--val-limit", "3", "--ckpt-every", "2"]) == 0
    train = read_csv(run / "train.csv")
    assert [int(r["step"]) for r in train] == [1, 2, 3, 4]
    val = read_csv(run / "val.csv")
    assert [(int(r["step"]), float(r["quality"])) for r in val] == [(s, q) for s in (2, 4) for q in (1, 2, 3, 4, 5)]
    assert all(float(r["bpp"]) > 0 and float(r["psnr"]) > 0 for r in val)
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))  # tensorboard is a test dependency


def test_empty_or_invalid_tile_folder(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    assert main(["--quiet", "train", "--tiles", str(tmp_path / "t"), "--out", str(tmp_path / "r")]) == 1
    assert "holds no images" in capsys.readouterr().err
    (tmp_path / "t" / "bad.png").write_text("not an image")
    assert main(["--quiet", "train", "--tiles", str(tmp_path / "t"), "--out", str(tmp_path / "r")]) == 1
    assert "not a readable image" in capsys.readouterr().err


def config(tiles, out, steps):
    return TrainConfig(tiles=str(tiles), out=str(out), config="elic-tiny", steps=steps, batch=2, crop=64,
                       warmup=2, ckpt_every=2, threads=1)


def test_resume_continues_exactly_where_the_checkpoint_left(tiles, tmp_path):
    straight = CodecTrainer(config(tiles, tmp_path / "a", 4))
    straight.train(progress=False)
    first = CodecTrainer(config(tiles, tmp_path / "b", 4))
    first.train(progress=False, until=2)
    resumed = CodecTrainer(config(tiles, tmp_path / "b", 4), resume=True)
    assert resumed.step == 2
    resumed.train(progress=False)
    # Same batches, qualities, learning rates and optimiser moments: the logged losses (the auxiliary one
    # too) agree and the weights agree up to last-bit float noise (a wrong RNG or optimiser state, or a
    # step that depends on something the checkpoint does not hold, would change them a lot).
    for column in ("loss", "aux"):
        logged = [[round(float(r[column]), 4) for r in read_csv(tmp_path / run / "train.csv")] for run in "ab"]
        assert logged[0] == logged[1] and len(logged[0]) == 4, column
    for (name, a), b in zip(straight.net.state_dict().items(), resumed.net.state_dict().values()):
        if a.dtype.is_floating_point:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_a_step_depends_only_on_what_the_checkpoint_holds(tiles, tmp_path):
    """The quantiles' gradient left from the previous auxiliary step must not reach the main step (it once
    scaled every main gradient down ~700×, a scale no checkpoint held)."""
    updates = []
    for stale in (None, 1e4):
        trainer = CodecTrainer(config(tiles, tmp_path / f"r{stale}", 4))
        trainer.rng.seed(7)
        before = [p.detach().clone() for p in trainer.opt.param_groups[0]["params"]]
        for name, p in trainer.net.named_parameters():
            if name.endswith(".quantiles"):
                p.grad = None if stale is None else torch.full_like(p, stale)
        trainer.set_lr(trainer.opt)
        trainer.train_step(autocast=False)
        updates.append([p.detach() - b for p, b in zip(trainer.opt.param_groups[0]["params"], before)])
    for a, b in zip(*updates):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-9)


def test_a_checkpoint_from_before_the_clip_fix_resumes_with_rescaled_moments(tiles, tmp_path, monkeypatch):
    from ldmrsic_core.training import codec_trainer

    CodecTrainer(config(tiles, tmp_path / "r", 2)).train(progress=False)
    path = tmp_path / "r" / "last.pt"
    state = torch.load(path, weights_only=True)
    assert state["grad_clip"] == codec_trainer.CLIP_KIND
    moments = {k: (v["exp_avg"].clone(), v["exp_avg_sq"].clone()) for k, v in state["opt"]["state"].items()}
    monkeypatch.setattr(codec_trainer, "quantile_gradient_norm", lambda net: 50.0)
    current = CodecTrainer(config(tiles, tmp_path / "r", 4), resume=True)  # written by this version: as it was
    for (m, v), p in zip(moments.values(), current.opt.param_groups[0]["params"]):
        torch.testing.assert_close(current.opt.state[p]["exp_avg"], m)
    del state["grad_clip"]
    torch.save(state, path)
    old = CodecTrainer(config(tiles, tmp_path / "r", 4), resume=True)
    for (m, v), p in zip(moments.values(), old.opt.param_groups[0]["params"]):
        torch.testing.assert_close(old.opt.state[p]["exp_avg"], m * 50)
        torch.testing.assert_close(old.opt.state[p]["exp_avg_sq"], v * 2500)


def test_rescaled_moments_leave_adams_step_unchanged():
    from ldmrsic_core.training.codec_trainer import rescale_moments

    steps = []
    for scale in (1.0, 30.0):
        torch.manual_seed(0)
        p = torch.nn.Parameter(torch.zeros(5))
        opt = torch.optim.Adam([p], lr=0.1)
        for grad in torch.randn(3, 5):
            p.grad = grad.clone()
            opt.step()
        rescale_moments(opt, scale)
        before = p.detach().clone()
        p.grad = torch.randn(5) * scale  # gradients as large as the moments now say they were
        opt.step()
        steps.append(p.detach() - before)
    torch.testing.assert_close(steps[0], steps[1])


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tiles, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--tiles", str(tiles), "--out", str(run), "--config", "elic-tiny", "--batch", "2",
            "--crop", "64", "--ckpt-every", "3", "--threads", "1"]
    proc = subprocess.Popen([*CLI, *args, "--steps", "100000"])
    end = time.time() + 120
    while not (run / "last.pt").exists() and time.time() < end:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(run / "last.pt", weights_only=True)["step"]
    assert saved >= 3 and saved % 3 == 0
    subprocess.run([*CLI, *args, "--steps", str(saved + 2), "--resume"], check=True)
    steps = [int(r["step"]) for r in read_csv(run / "train.csv")]
    assert steps[-2:] == [saved + 1, saved + 2]
    assert torch.load(run / "last.pt", weights_only=True)["step"] == saved + 2


def test_interrupted_run_saves_its_last_step_and_says_so(tiles, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "train", "--tiles", str(tiles), "--out", str(run), "--config", "elic-tiny",
                             "--batch", "2", "--crop", "64", "--ckpt-every", "100000", "--threads", "1",
                             "--steps", "100000"], stderr=subprocess.PIPE, text=True)
    end = time.time() + 120
    while not ((run / "train.csv").exists() and len(read_csv(run / "train.csv")) >= 3) and time.time() < end:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "last finished step is saved" in err and "--resume" in err and "Traceback" not in err
    last_logged = int(read_csv(run / "train.csv")[-1]["step"])
    assert torch.load(run / "last.pt", weights_only=True)["step"] == last_logged >= 3


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tiles, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "ldmrsic_cli", "--quiet", "train", "--tiles", str(tiles), "--out", str(run),
                    "--config", "elic-tiny", "--steps", "3", "--batch", "2", "--crop", "64", "--ckpt-every", "3"],
                   check=True, env=env, timeout=300)
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 3
    assert [int(r["step"]) for r in read_csv(run / "train.csv")] == [1, 2, 3]  # rank 0 alone logs


def test_export_then_compress_by_name(tiles, tmp_path, private_model_dir):
    run = tmp_path / "run"
    CodecTrainer(config(tiles, run, 2)).train(progress=False)
    assert main(["--quiet", "train", "export", str(run), "--name", "tiny-run", "--checkpoint", "last"]) == 0
    table = json.loads((private_model_dir / "models.json").read_text())
    assert table["models"]["tiny-run"]["config"] == "elic-tiny"
    packed, restored = tmp_path / "x.ldmr", tmp_path / "x.tif"
    assert main(["--quiet", "compress", str(DATA / "l8_uint16_1band.tif"), "-o", str(packed),
                 "--model", "tiny-run", "--tile", "64"]) == 0
    assert main(["--quiet", "decompress", str(packed), "-o", str(restored)]) == 0  # found by its hash
    with rasterio.open(restored) as r:
        assert r.count == 1
    assert main(["--quiet", "train", "export", str(run), "--name", "tiny-run", "--checkpoint", "last"]) == 1


def test_export_default_from_makes_a_top_rate_default_and_later_exports_keep_it(tiles, tmp_path, capsys):
    run, folder = tmp_path / "run", tmp_path / "package"
    CodecTrainer(config(tiles, run, 2)).train(progress=False)
    export = ["--quiet", "train", "export", str(run), "--checkpoint", "last", "--dir", str(folder)]
    assert main([*export, "--name", "base", "--default"]) == 0
    assert main([*export, "--name", "top", "--default-from", "4"]) == 0
    assert main([*export, "--name", "later"]) == 0  # the table is rewritten: the top default stays
    table = json.loads((folder / "models.json").read_text())
    assert table["default"] == "base" and table["top_defaults"] == [{"from_quality": 4.0, "model": "top"}]
    assert main([*export, "--name", "top2", "--default-from", "4"]) == 0  # replaces the one from 4
    assert json.loads((folder / "models.json").read_text())["top_defaults"] == [{"from_quality": 4.0,
                                                                                  "model": "top2"}]
    capsys.readouterr()
    assert main([*export, "--name", "low", "--default-from", "1"]) == 1
    assert "--default-from 1: give a quality above 1" in capsys.readouterr().err
    assert not (folder / "low.pt").exists()


def test_a_float16_export_is_half_the_file_and_the_model_it_describes(tiles, tmp_path, private_model_dir):
    from ldmrsic_core.zoo.registry import load_codec

    run = tmp_path / "run"
    CodecTrainer(config(tiles, run, 2)).train(progress=False)
    for name, extra in (("full", []), ("half", ["--float16"])):
        assert main(["--quiet", "train", "export", str(run), "--name", name, "--checkpoint", "last", *extra]) == 0
    full, half = private_model_dir / "full.pt", private_model_dir / "half.pt"
    assert half.stat().st_size < 0.7 * full.stat().st_size  # the CDF tables (int32) stay: elic-tiny is small
    stored = torch.load(half, weights_only=True)["state_dict"]
    loaded = load_codec("half").model.state_dict()
    for key, value in stored.items():  # loads as float32, exactly the stored (rounded) values
        assert loaded[key].dtype == (torch.float32 if value.is_floating_point() else value.dtype)
        torch.testing.assert_close(loaded[key], value.to(loaded[key].dtype), rtol=0, atol=0)
    assert any(v.dtype == torch.float16 for v in stored.values())
    outputs = []
    for attempt in range(2):  # coded and decoded the same way each time, by name and hash
        packed, restored = tmp_path / f"h{attempt}.ldmr", tmp_path / f"h{attempt}.tif"
        assert main(["--quiet", "compress", str(DATA / "l8_uint16_1band.tif"), "-o", str(packed), "--model", "half",
                     "--tile", "64", "--precision", "fp32"]) == 0
        assert main(["--quiet", "decompress", str(packed), "-o", str(restored), "--precision", "fp32"]) == 0
        with rasterio.open(restored) as r:
            outputs.append((packed.read_bytes(), r.read()))
    assert outputs[0][0] == outputs[1][0] and np.array_equal(outputs[0][1], outputs[1][1])


def test_init_starts_the_codec_from_exported_weights(tiles, tmp_path, tiny_weights, capsys):
    run = tmp_path / "run"
    trainer = CodecTrainer(TrainConfig(**{**config(tiles, run, 1).__dict__, "init": str(tiny_weights)}))
    blob = torch.load(tiny_weights, weights_only=True)["state_dict"]
    for name, value in trainer.net.state_dict().items():  # before any step: exactly the exported weights
        torch.testing.assert_close(value, blob[name], rtol=0, atol=0)
    assert trainer.opt.state == {}  # fresh optimisers
    trainer.train(progress=False)
    assert any(not torch.equal(v, blob[k]) for k, v in trainer.net.state_dict().items() if k in blob)
    # a weights file of another configuration, and an enhancer, are one clear line each
    args = ["--quiet", "train", "--tiles", str(tiles), "--out", str(tmp_path / "r2"), "--steps", "1", "--crop", "64"]
    assert main([*args, "--config", "elic-small", "--init", str(tiny_weights)]) == 1
    assert "is a elic-tiny codec, not --config elic-small" in capsys.readouterr().err
    assert main([*args, "--config", "elic-tiny", "--init", "men-small-ucm-1"]) == 1
    assert "is an enhancement model" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_a_run_can_train_a_range_of_qualities_only(tiles, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--quiet", "train", "--tiles", str(tiles), "--config", "elic-tiny", "--steps", "6", "--batch", "2",
            "--crop", "64", "--warmup", "2"]
    assert main([*args, "--out", str(run), "--qualities", "4.5", "5"]) == 0
    qualities = [float(r["quality"]) for r in read_csv(run / "train.csv")]
    assert len(qualities) == 6 and all(4.5 <= q <= 5 for q in qualities)
    assert main([*args, "--out", str(tmp_path / "r2"), "--qualities", "4", "6"]) == 1
    assert "--qualities 4 6 is invalid" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_top_weight_gives_the_upper_half_of_the_qualities_its_share():
    import random

    from ldmrsic_core.training.codec_trainer import sample_quality

    a, b = random.Random(7), random.Random(7)
    assert [sample_quality(a, 1, 5) for _ in range(50)] == [b.uniform(1, 5) for _ in range(50)]
    rng = random.Random(3)
    draws = [sample_quality(rng, 1, 5, 3.0) for _ in range(20_000)]
    assert all(1 <= q <= 5 for q in draws)
    upper = sum(q >= 3 for q in draws) / len(draws)
    assert abs(upper - 0.75) < 0.015  # W / (1 + W)
    assert abs(sum(q >= 4 for q in draws) / len(draws) - 0.375) < 0.015  # uniform within each half


def test_a_run_can_weight_the_high_rates(tiles, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--quiet", "train", "--tiles", str(tiles), "--config", "elic-tiny", "--steps", "4", "--batch", "2",
            "--crop", "64", "--warmup", "2"]
    assert main([*args, "--out", str(run), "--top-weight", "1e9"]) == 0
    assert all(float(r["quality"]) >= 3 for r in read_csv(run / "train.csv"))
    assert json.loads((run / "config.json").read_text())["top_weight"] == 1e9
    assert main([*args, "--out", str(tmp_path / "r2"), "--top-weight", "0"]) == 1
    assert "--top-weight 0 is invalid" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_single_band_crops_repeat_one_band_and_leave_other_runs_unchanged(tiles, tmp_path, capsys):
    import random

    from ldmrsic_core.training.data import TileSet

    data = TileSet(tiles, 64)
    plain = data.batch(6, 64, random.Random(5))
    assert torch.equal(plain, data.batch(6, 64, random.Random(5), 0.0))  # 0: the draws of earlier versions
    grey = data.batch(6, 64, random.Random(5), 1.0)
    assert all(torch.equal(crop[0], crop[1]) and torch.equal(crop[1], crop[2]) for crop in grey)
    assert not all(torch.equal(crop[0], crop[1]) for crop in plain)
    # the first single-band crop is one band of the crop the same draws make without it
    assert any(torch.equal(grey[0][0], plain[0][c]) for c in range(3))
    def one_band_share(batch: torch.Tensor) -> float:
        return sum(torch.equal(c[0], c[1]) and torch.equal(c[1], c[2]) for c in batch) / len(batch)

    natural = one_band_share(data.batch(400, 64, random.Random(1)))  # grey fixtures are single-band already
    expected = natural + 0.25 * (1 - natural)
    assert abs(one_band_share(data.batch(400, 64, random.Random(1), 0.25)) - expected) < 0.08

    args = ["--quiet", "train", "--tiles", str(tiles), "--config", "elic-tiny", "--steps", "2", "--batch", "2",
            "--crop", "64", "--warmup", "1"]
    assert main([*args, "--out", str(tmp_path / "run"), "--single-band", "0.5"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["single_band"] == 0.5
    assert main([*args, "--out", str(tmp_path / "r2"), "--single-band", "1.5"]) == 1
    assert "--single-band 1.5 is invalid" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_tile_scale_averages_blocks(tmp_path):
    source = DATA / "l8_uint16_1band.tif"
    out = tmp_path / "t"
    assert main(["--quiet", "tile", str(source), "--out", str(out), "--size", "32", "--scale", "2"]) == 0
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    first = next(line for line in lines if line["window"][:2] == [0, 0])
    assert first["scale"] == 2 and first["window"] == [0, 0, 64, 64]  # source pixels
    with rasterio.open(source) as src, rasterio.open(out / first["file"]) as t:
        block = src.read(1, window=rasterio.windows.Window(0, 0, 64, 64)).astype(np.float64)
        lo, hi = first["mapping"][0]
        mapping = ValueMapping(lo, hi, tuple(map(tuple, first["knots"][0])))
        mean = block.reshape(32, 2, 32, 2).mean(axis=(1, 3))
        assert len(mapping.knots) == 2  # the fitted curve, as compress maps the band
        points = np.array([(lo, 0.0), *mapping.knots, (hi, 1.0)])
        step = 65535 * np.max(np.diff(points[:, 1]) / np.diff(points[:, 0]))  # GDAL rounds the mean to integers
        np.testing.assert_allclose(t.read(1), np.rint(mapping.to_unit(mean) * 65535), atol=step + 1)
        assert t.shape == (32, 32)
    assert main(["--quiet", "tile", str(source), "--out", str(tmp_path / "u"), "--scale", "0"]) == 1


def test_an_interrupted_run_checkpoints_its_last_step(tiles, tmp_path, monkeypatch):
    trainer = CodecTrainer(config(tiles, tmp_path / "r", 10))
    real_step = trainer.train_step

    def step_then_stop(autocast):
        if trainer.step == 3:
            raise KeyboardInterrupt  # what the CLI turns SIGINT and SIGTERM into
        return real_step(autocast)

    monkeypatch.setattr(trainer, "train_step", step_then_stop)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(progress=False)
    assert torch.load(tmp_path / "r" / "last.pt", weights_only=True)["step"] == 3


def test_a_validation_cut_short_by_an_interrupt_is_redone_on_resume(tiles, tmp_path):
    """Ctrl-C during a validation checkpoints that step; the resumed run validates it before going on,
    so val.csv keeps a row for every validation step (run 19 of the campaign lost its step 2400)."""
    def cfg():
        return TrainConfig(tiles=str(tiles), out=str(tmp_path / "r"), config="elic-tiny", steps=4, batch=2, crop=64,
                           warmup=2, ckpt_every=2, threads=1, val=str(tiles), val_every=2, val_limit=2)

    first = CodecTrainer(cfg())

    def interrupted_validation():  # one preset's row logged, then SIGINT (as the CLI turns it) lands
        first.log("val.csv", {"step": first.step, "quality": 1.0, "bpp": 0.5, "psnr": 30.0})
        raise KeyboardInterrupt

    first.validate = interrupted_validation
    with pytest.raises(KeyboardInterrupt):
        first.train(progress=False)
    state = torch.load(tmp_path / "r" / "last.pt", weights_only=False)
    assert state["step"] == 2 and state["validation_due"]

    resumed = CodecTrainer(cfg(), resume=True)
    assert resumed.validation_due
    resumed.train(progress=False)
    steps = [int(r["step"]) for r in read_csv(tmp_path / "r" / "val.csv")]
    assert sorted(set(steps)) == [2, 4] and steps.count(2) == steps.count(4)
    assert not torch.load(tmp_path / "r" / "last.pt", weights_only=False)["validation_due"]


def test_a_resume_drops_the_log_rows_its_checkpoint_has_not_kept(tiles, tmp_path):
    """A run killed between checkpoints (no Ctrl-C: kill -9, a power cut) logged steps its last.pt lacks;
    the resumed run trains them again and each step keeps one row in train.csv, a torn last line included."""
    def cfg():
        return TrainConfig(tiles=str(tiles), out=str(tmp_path / "r"), config="elic-tiny", steps=5, batch=2, crop=64,
                           warmup=2, ckpt_every=2, threads=1)

    CodecTrainer(cfg()).train(progress=False, until=2)
    log = tmp_path / "r" / "train.csv"
    header = log.read_text().splitlines()[0]
    with open(log, "a") as f:  # what a kill at step 4, after the checkpoint of step 2, leaves behind
        f.write("3" + header.count(",") * ",1" + "\n4,1,1")
    CodecTrainer(cfg(), resume=True).train(progress=False)
    assert [int(r["step"]) for r in read_csv(log)] == [1, 2, 3, 4, 5]
