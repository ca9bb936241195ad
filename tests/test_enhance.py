"""LDM-RSIC enhancement: shapes, seeded determinism, training stages, decode and JPEG2000*."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from conftest import write_raster
from ldmrsic_core import compress_raster, decompress_raster, read_header
from ldmrsic_core.enhance.enhancer import pad_to_patch
from ldmrsic_core.enhance.lrm import PriorEncoder
from ldmrsic_core.enhance.men import MEN
from ldmrsic_core.errors import InputError, WeightsError
from ldmrsic_core.format.versions import VERSION
from ldmrsic_core.pipeline.enhance import enhance_raster
from ldmrsic_core.training.enhance_trainer import EnhanceConfig, EnhanceTrainer
from ldmrsic_core.training.export import export_model
from ldmrsic_core.zoo.configs import ENHANCER_CONFIGS as CONFIGS
from ldmrsic_core.zoo.enhancers import load_enhancer

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("h,w", [(64, 64), (128, 192), (256, 256), (320, 128), (512, 384)])
def test_shapes_for_tile_sizes(h, w):
    torch.manual_seed(0)
    cfg = CONFIGS["men-tiny"]
    lrm = PriorEncoder(cfg.prior_dim, cfg.lrm_base, cfg.lrm_blocks, with_original=True)
    x = torch.rand(2, 3, h, w)
    tokens = lrm(x, x)
    assert tokens.shape == (2, (h // 64) * (w // 64), cfg.prior_dim)  # one token per 64×64 pixels
    for levels in [(3,), (0, 1, 2, 3)]:
        men = MEN(cfg.channels, cfg.blocks, cfg.heads, 0, 2.0, cfg.prior_dim, levels)
        assert men(x, tokens).shape == x.shape


@pytest.mark.parametrize("h,w", [(50, 70), (200, 130), (256, 256)])
def test_enhance_any_size_and_seeded(h, w):
    torch.manual_seed(0)
    net = CONFIGS["men-tiny"].build().eval()
    torch.nn.init.normal_(net.men.out.weight, std=0.05)
    x = torch.rand(2, 3, h, w)
    a, b = net.enhance(x, [1, 2]), net.enhance(x, [1, 2])
    assert a.shape == x.shape and torch.equal(a, b)
    # Per-image seeds: an image enhances the same alone or in a batch; another seed changes it.
    assert torch.allclose(net.enhance(x[1:], [2])[0], a[1], atol=1e-5)
    assert not torch.equal(net.enhance(x, [1, 3])[1], a[1])
    # The coding level conditions the output (its layers start at zero: no effect until trained).
    assert torch.equal(net.enhance(x, [1, 2], 0.0), net.enhance(x, [1, 2], 1.0))
    torch.nn.init.normal_(net.men.level_in.weight, std=1.0)
    assert not torch.allclose(net.enhance(x, [1, 2], 0.0), net.enhance(x, [1, 2], 1.0))


def test_paper_configuration_builds():
    net = CONFIGS["men-paper"].build()
    assert net.men.encoders[0][0].attn.heads == 1 and len(net.men.bottleneck) == 4
    assert net.diffusion.steps == 4
    assert 20e6 < sum(p.numel() for p in net.parameters()) < 60e6


def test_diffusion_chain_is_deterministic_and_uses_condition():
    torch.manual_seed(0)
    net = CONFIGS["men-tiny"].build().eval()
    noise = torch.randn(1, 4, net.cfg.prior_dim)
    d1, d2 = torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(net.student_prior(d1, noise), net.student_prior(d1, noise))
        assert not torch.allclose(net.student_prior(d1, noise), net.student_prior(d2, noise))


def _training_images(folder: Path) -> Path:
    """Four 128² RGB crops of a real scene, as PNG (the format of training tiles)."""
    folder.mkdir()
    with rasterio.open(DATA / "naip_uint8_4band.tif") as src:
        data = src.read([1, 2, 3])
    with rasterio.open(DATA / "rgb_uint8_nodata.tif") as src:
        other = src.read()
    crops = [data[:, :96, :128], other[:, 20:148, 72:200]]
    for i, crop in enumerate(crops):
        for flip in range(2):
            img = np.ascontiguousarray(crop[:, :, ::-1] if flip else crop)
            with rasterio.open(folder / f"img{i}{flip}.png", "w", driver="PNG", width=img.shape[2],
                               height=img.shape[1], count=3, dtype="uint8") as dst:
                dst.write(img)
    return folder


@pytest.fixture(scope="module")
def stage_runs(tmp_path_factory):
    """A tiny Stage I then Stage II run on JPEG2000 output of four images (validated on the same)."""
    root = tmp_path_factory.mktemp("enh")
    images = _training_images(root / "images")
    common = dict(tiles=str(images), val=str(images), source="jpeg2000", config="men-tiny", cache=str(root / "cache"),
                  batch=4, crop=64, lr=1e-3, warmup=5, val_every=60, ckpt_every=60, device="cpu")
    prior = EnhanceTrainer(EnhanceConfig(out=str(root / "prior"), stage="prior", steps=60, **common), progress=False)
    prior.train(progress=False)
    ldm = EnhanceTrainer(EnhanceConfig(out=str(root / "ldm"), stage="ldm", init=str(root / "prior"), steps=30,
                                       **{**common, "val_every": 30, "ckpt_every": 30}), progress=False)
    ldm.train(progress=False)
    return root


def _val_rows(run: Path) -> list[dict[str, float]]:
    import csv

    with open(run / "val.csv") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_overfit_teacher_beats_the_codec(stage_runs):
    rows = _val_rows(stage_runs / "prior")
    last = [r for r in rows if r["step"] == max(r["step"] for r in rows)]
    assert len(last) == 5  # one row per JPEG2000 rate
    gains = [r["psnr_teacher"] - r["psnr_decoded"] for r in last]
    assert np.mean(gains) > 0.1, gains


def test_stage_two_exports_and_enhances_a_jpeg2000_raster(stage_runs, tmp_path):
    rows = _val_rows(stage_runs / "ldm")
    assert {"psnr_enhanced", "psnr_teacher", "psnr_decoded"} <= set(rows[0])
    path, digest = export_model(stage_runs / "ldm", "jp2-tiny", checkpoint="last")
    loaded = load_enhancer("jp2-tiny")
    assert loaded.sha256 == digest and loaded.source == "jpeg2000" and loaded.codec_sha256 is None
    assert len(loaded.validation) == 5 and loaded.conditioned  # the exported step's validation rows travel along
    rate, gain = loaded.measured_gain(0.1)
    assert rate == min((r["bpp"] for r in loaded.validation), key=lambda b: abs(np.log(b / 0.1)))

    # A georeferenced JPEG2000 file, as gdal_translate -of JP2OpenJPEG would write it.
    with rasterio.open(DATA / "rgb_uint8_nodata.tif") as src:
        profile, data = src.profile, src.read()
    jp2 = tmp_path / "scene.jp2"
    with rasterio.open(jp2, "w", driver="JP2OpenJPEG", width=profile["width"], height=profile["height"], count=3,
                       dtype="uint8", crs=profile["crs"], transform=profile["transform"], nodata=0,
                       QUALITY="5", REVERSIBLE="NO") as dst:
        dst.write(data)
    out = tmp_path / "enhanced.tif"
    result = enhance_raster(jp2, out, enhancer="jp2-tiny", tile=128, overlap=32, device="cpu")
    assert result.enhancer == "jp2-tiny"
    with rasterio.open(jp2) as a, rasterio.open(out) as b:
        assert b.crs == a.crs and b.transform == a.transform and b.shape == a.shape
        assert b.dtypes == a.dtypes and b.nodata == a.nodata
        assert "jp2-tiny" in b.tags()["LDMRSIC_ENHANCER"]
        before, after = a.read(), b.read()
    assert not np.array_equal(before, after)
    with pytest.raises(FileExistsError):
        enhance_raster(jp2, out, device="cpu")


def test_decode_enhances_by_default_deterministically(tiny_weights, paired_enhancer, tmp_path):
    packed = tmp_path / "x.ldmr"
    compress_raster(DATA / "rgb_uint8_nodata.tif", packed, model=tiny_weights, tile=128, overlap=16, device="cpu")
    header = read_header(packed)
    assert header.enhancer is not None and header.enhancer.model == "tiny-enh"
    outs = []
    for name, kwargs in (("a", {}), ("b", {}), ("plain", {"enhance": False})):
        result = decompress_raster(packed, tmp_path / f"{name}.tif", model=tiny_weights, device="cpu", **kwargs)
        with rasterio.open(result.output) as src:
            outs.append(src.read())
    a, b, plain = outs
    assert np.array_equal(a, b)            # the same file decodes to the same pixels
    assert not np.array_equal(a, plain)    # and enhancement did something
    # A window decodes to the same pixels as the whole file there (same tiles, same seeds).
    with rasterio.open(tmp_path / "a.tif") as src:
        win = rasterio.windows.Window(40, 10, 120, 100)
        bbox = rasterio.windows.bounds(win, src.transform)
        whole = src.read(window=win)
    decompress_raster(packed, tmp_path / "w.tif", bbox=bbox, model=tiny_weights, device="cpu")
    with rasterio.open(tmp_path / "w.tif") as src:
        assert np.array_equal(src.read(), whole)


def test_missing_or_mismatched_enhancer_is_refused(tiny_weights, paired_enhancer, tmp_path):
    packed = tmp_path / "x.ldmr"
    compress_raster(DATA / "rgb_uint8_nodata.tif", packed, model=tiny_weights, tile=128, device="cpu")
    with pytest.raises(WeightsError, match="restores JPEG2000 output"):
        decompress_raster(packed, tmp_path / "j.tif", model=tiny_weights, enhancer="tiny-jp2", device="cpu")
    hidden = paired_enhancer.with_suffix(".moved")
    shutil.move(paired_enhancer, hidden)
    shutil.copy(hidden, tmp_path / "copy.pt")
    paired_enhancer.write_bytes(b"not the weights")
    with pytest.raises(WeightsError, match="damaged or replaced"):
        decompress_raster(packed, tmp_path / "m.tif", model=tiny_weights, device="cpu")
    assert not (tmp_path / "m.tif").exists()
    # An explicit path with the right weights works; --no-enhance always works.
    decompress_raster(packed, tmp_path / "p.tif", model=tiny_weights, enhancer=tmp_path / "copy.pt", device="cpu")
    decompress_raster(packed, tmp_path / "n.tif", model=tiny_weights, enhance=False, device="cpu")


def test_pad_to_patch():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    y = pad_to_patch(x)
    assert y.shape == (1, 1, 64, 64) and y[0, 0, 63, 63] == 5


def test_cli_enhancement_errors_are_one_line(tmp_path, capsys, monkeypatch):
    from ldmrsic_cli.main import main

    monkeypatch.setattr("ldmrsic_core.zoo.table.package_model_dir", lambda: tmp_path / "none")
    src = DATA / "rgb_uint8_nodata.tif"
    assert main(["--quiet", "enhance", str(src), "-o", str(tmp_path / "e.tif")]) == 1
    err = capsys.readouterr().err
    assert "no enhancement model for jpeg2000 is installed" in err and err.count("\n") == 1
    assert main(["--quiet", "train", "--stage", "ldm", "--tiles", str(DATA), "--out", str(tmp_path / "r"),
                 "--source", "jpeg2000", "--config", "men-tiny"]) == 1
    err = capsys.readouterr().err
    assert "pass --init RUN" in err and err.count("\n") == 1
    assert not (tmp_path / "e.tif").exists() and not (tmp_path / "r").exists()


def test_cli_round_trip_names_the_enhancer(tiny_weights, paired_enhancer, tmp_path, capsys):
    from ldmrsic_cli.main import main

    packed = tmp_path / "x.ldmr"
    assert main(["--quiet", "compress", str(DATA / "l8_uint16_1band.tif"), "-o", str(packed),
                 "--model", str(tiny_weights)]) == 0
    capsys.readouterr()
    assert main(["info", str(packed)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["enhancer"]["name"] == "tiny-enh" and info["format_version"] == "{}.{}".format(*VERSION)
    assert main(["--quiet", "decompress", str(packed), "-o", str(tmp_path / "e.tif"),
                 "--model", str(tiny_weights)]) == 0
    assert "enhanced by tiny-enh" in capsys.readouterr().err
    assert main(["--quiet", "compress", str(DATA / "l8_uint16_1band.tif"), "-o", str(tmp_path / "n.ldmr"),
                 "--model", str(tiny_weights), "--no-enhancer"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "n.ldmr")]) == 0
    assert json.loads(capsys.readouterr().out)["enhancer"] is None


def _stage_config(images: Path, out: Path, steps: int, **kw) -> EnhanceConfig:
    return EnhanceConfig(tiles=str(images), out=str(out), source="jpeg2000", config="men-tiny",
                         cache=str(out.parent / "cache"), batch=2, crop=64, warmup=2, steps=steps,
                         ckpt_every=100, device="cpu", **kw)


def test_stage_two_resume_continues_exactly(stage_runs, tmp_path):
    images = stage_runs / "images"
    init = str(stage_runs / "prior")
    straight = EnhanceTrainer(_stage_config(images, tmp_path / "a", 4, stage="ldm", init=init), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no autocast for a device the run is not on
        straight.train(progress=False)
    first = EnhanceTrainer(_stage_config(images, tmp_path / "b", 4, stage="ldm", init=init), progress=False)
    first.train(progress=False, until=2)
    resumed = EnhanceTrainer(_stage_config(images, tmp_path / "b", 4, stage="ldm", init=init), resume=True,
                             progress=False)
    assert resumed.step == 2
    resumed.train(progress=False)
    for (name, a), b in zip(straight.net.state_dict().items(), resumed.net.state_dict().values()):
        if a.dtype.is_floating_point:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    # Stage II trains the student and MEN, never the teacher.
    prior = EnhanceTrainer(_stage_config(images, tmp_path / "c", 1, stage="ldm", init=init), progress=False)
    torch.testing.assert_close(straight.net.lrm.state_dict(), prior.net.lrm.state_dict())


@pytest.mark.slow
def test_two_process_ddp_stage_one_on_cpu(stage_runs, tmp_path):
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "ldmrsic_cli", "--quiet", "train", "--stage", "prior", "--source", "jpeg2000",
                    "--config", "men-tiny", "--tiles", str(stage_runs / "images"), "--out", str(run),
                    "--cache", str(stage_runs / "cache"), "--steps", "3", "--batch", "2", "--crop", "64",
                    "--ckpt-every", "3"], check=True, env=env, timeout=300)
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 3 and state["stage"] == "prior"


def test_cached_codec_output_is_what_decompress_writes(tiny_weights, tmp_path):
    from ldmrsic_core.training.pairs import PairSet, make_source

    images = _training_images(tmp_path / "images")
    pairs = PairSet(images, make_source("ldmrsic", str(tiny_weights), levels=(2.5,)), tmp_path / "cache",
                    progress=False)
    image = pairs.files[0]
    compress_raster(image, tmp_path / "x.ldmr", quality=2.5, model=tiny_weights, enhance=False, device="cpu")
    decompress_raster(tmp_path / "x.ldmr", tmp_path / "x.tif", model=tiny_weights, device="cpu")
    with rasterio.open(tmp_path / "x.tif") as src:
        assert np.array_equal(src.read(), pairs.decoded[0][0])
    assert abs(pairs.bpp[0][0] * pairs.originals[0][0].size / 8 - ((tmp_path / "x.ldmr").stat().st_size)) < 2000
    # The cache is reused: a second set reads the same pixels back.
    again = PairSet(images, make_source("ldmrsic", str(tiny_weights), levels=(2.5,)), tmp_path / "cache",
                    progress=False)
    assert np.array_equal(again.decoded[0][0], pairs.decoded[0][0]) and again.bpp == pairs.bpp


@pytest.mark.slow
@pytest.mark.parametrize("enhance", [False, True])
def test_a_full_decode_decodes_and_enhances_each_tile_once(tiny_weights, paired_enhancer, tmp_path, monkeypatch,
                                                           enhance):
    """Caches big enough for three tile rows: no tile is decoded (or enhanced) twice."""
    import ldmrsic_core.pipeline.tile_jobs as tile_jobs

    scene = write_raster(tmp_path / "s.tif", np.random.default_rng(0).integers(0, 255, (3, 400, 520)).astype("uint8"))
    packed = compress_raster(scene, tmp_path / "s.ldmr", model=tiny_weights, tile=64, overlap=16, device="cpu").output
    enhanced = []
    real = tile_jobs.enhance_groups
    monkeypatch.setattr(tile_jobs, "enhance_groups", lambda *a, **k: enhanced.extend(a[3]) or real(*a, **k))
    result = decompress_raster(packed, tmp_path / "o.tif", model=tiny_weights, device="cpu", enhance=enhance)
    tiles = len(read_header(packed).plan)
    assert result.tiles_read == tiles
    assert sorted(enhanced) == (list(range(tiles)) if enhance else [])


def test_stage_one_warm_starts_from_an_exported_enhancer(stage_runs, tmp_path):
    """For a new codec, Stage I starts from the previous codec's shipped enhancer (teacher LRM included)."""
    export_model(stage_runs / "ldm", "jp2-tiny-init", checkpoint="last")
    exported = load_enhancer("jp2-tiny-init").model.state_dict()
    images = _training_images(tmp_path / "images")
    common = dict(tiles=str(images), source="jpeg2000", config="men-tiny", cache=str(tmp_path / "cache"), batch=2,
                  crop=64, steps=1, device="cpu")
    run = EnhanceTrainer(EnhanceConfig(out=str(tmp_path / "warm"), stage="prior", init="jp2-tiny-init", **common),
                         progress=False)
    assert all(torch.equal(run.net.state_dict()[k], v) for k, v in exported.items())
    with pytest.raises(InputError, match="restores jpeg2000 output, not ldmrsic"):
        EnhanceTrainer(EnhanceConfig(out=str(tmp_path / "bad"), stage="prior", init="jp2-tiny-init",
                                     **{**common, "source": "ldmrsic"}), progress=False)
    # Stage II fine-tunes all of an exported enhancer (LRM_DM and the denoiser as trained, not LRM's copy)
    tune = EnhanceTrainer(EnhanceConfig(out=str(tmp_path / "tune"), stage="ldm", init="jp2-tiny-init", **common),
                          progress=False)
    assert all(torch.equal(tune.net.state_dict()[k], v) for k, v in exported.items())
    assert any(not torch.equal(exported[f"lrm_dm.{k}"], v) for k, v in tune.net.lrm.state_dict().items()
               if f"lrm_dm.{k}" in exported and exported[f"lrm_dm.{k}"].shape == v.shape)
    tune.train(progress=False)
    after = tune.net.state_dict()
    teacher = [k for k in exported if k.startswith("lrm.")]
    assert teacher and all(torch.equal(after[k], exported[k]) for k in teacher)  # frozen
    assert any(not torch.equal(after[k], v) for k, v in exported.items() if k.startswith("men."))


def test_an_enhancer_for_a_top_rate_codec_trains_at_its_presets_only(tiny_weights, tmp_path):
    images = _training_images(tmp_path / "images")
    common = dict(tiles=str(images), val=str(images), source="ldmrsic", codec=str(tiny_weights), config="men-tiny",
                  cache=str(tmp_path / "cache"), batch=2, crop=64, steps=1, val_every=1, device="cpu")
    run = EnhanceTrainer(EnhanceConfig(out=str(tmp_path / "top"), stage="prior", qualities=(4.0, 5.0), **common),
                         progress=False)
    assert run.data.source.levels == (4.0, 5.0)
    run.train(progress=False)
    assert sorted({r["level"] for r in _val_rows(tmp_path / "top")}) == [4.0, 5.0]
    assert sorted(p.name for p in (tmp_path / "cache" / run.data.source.key).iterdir()) == ["4", "5"]
    for bad in ((4.2, 4.8), (6.0, 7.0)):
        with pytest.raises(InputError, match="must hold a quality preset"):
            EnhanceTrainer(EnhanceConfig(out=str(tmp_path / "bad"), stage="prior", qualities=bad, **common),
                           progress=False)
    with pytest.raises(InputError, match="enhancers of our codec only"):
        EnhanceTrainer(EnhanceConfig(out=str(tmp_path / "bad"), stage="prior", qualities=(4.0, 5.0),
                                     **{**common, "source": "jpeg2000", "codec": None}), progress=False)


def test_the_psnr_loss_weighs_every_crop_by_its_relative_error():
    """``--loss psnr``: a crop with a tenth of another's error gets ten times its gradient per unit of error
    (L1 gives both the same), so a fine preset's crops count as much as a coarse one's in a mixed batch."""
    import torch.nn.functional as F

    from ldmrsic_core.training.enhance_trainer import psnr_loss

    x = torch.zeros(2, 3, 8, 8)
    noise = torch.randn(1, 3, 8, 8).expand(2, -1, -1, -1)
    out = (noise * torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)).requires_grad_()
    psnr_loss(out, x).backward()
    coarse, fine = out.grad[0].norm(), out.grad[1].norm()
    assert torch.isclose(fine / coarse, torch.tensor(10.0), rtol=1e-4)
    l1 = out.detach().requires_grad_()
    F.l1_loss(l1, x).backward()
    assert torch.isclose(l1.grad[1].norm() / l1.grad[0].norm(), torch.tensor(1.0))


def test_an_enhancer_trains_with_the_psnr_loss_and_the_codec_stage_refuses_it(tiny_weights, tmp_path, capsys):
    from ldmrsic_cli.main import main

    images = _training_images(tmp_path / "images")
    run = ["--quiet", "train", "--stage", "prior", "--source", "ldmrsic", "--codec", str(tiny_weights),
           "--config", "men-tiny", "--tiles", str(images), "--out", str(tmp_path / "r"), "--cache",
           str(tmp_path / "cache"), "--batch", "2", "--crop", "64", "--steps", "2", "--device", "cpu", "--loss", "psnr"]
    assert main(run) == 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["loss"] == "psnr"
    rows = (tmp_path / "r" / "train.csv").read_text().splitlines()
    assert len(rows) == 3 and float(rows[-1].split(",")[1]) < 0  # the loss: a scaled log of a small MSE
    assert main(["--quiet", "train", "--tiles", str(images), "--out", str(tmp_path / "c"), "--loss", "psnr"]) == 2
    assert "--loss is for the enhancement stages" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    with pytest.raises(InputError, match="not an enhancer loss"):
        EnhanceTrainer(EnhanceConfig(tiles=str(images), out=str(tmp_path / "bad"), source="jpeg2000",
                                     config="men-tiny", loss="mse"), progress=False)
