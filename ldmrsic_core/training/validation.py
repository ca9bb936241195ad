"""Validation with real bitstreams: bpp from the bytes written, PSNR and MS-SSIM per preset."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim

from ldmrsic_core.evaluation.psnr import psnr
from ldmrsic_core.models.codec import LAMBDAS, STRIDE, VariableRateElic, lambda_for_quality
from ldmrsic_core.tiling import padded
from ldmrsic_core.training.data import find_images, load_image

PRESETS = tuple(float(q) for q in range(1, len(LAMBDAS) + 1))


class ValidationSet:
    """Validation images (all, or the first ``limit`` in name order spread over the folder)."""

    def __init__(self, folder: Path, limit: int = 0):
        files = find_images(folder)
        if limit and limit < len(files):
            files = files[:: math.ceil(len(files) / limit)][:limit]
        self.files = files
        self.images = [torch.from_numpy(load_image(p)) for p in files]


@torch.no_grad()
def validate(net: VariableRateElic, images: ValidationSet, device: torch.device,
             qualities: tuple[float, ...] = PRESETS) -> list[dict[str, float]]:
    """Per quality: mean bpp (bytes of the entropy-coded streams), PSNR, MS-SSIM and real RD loss."""
    coder = copy.deepcopy(net).eval()
    coder.update(force=True)
    rows = []
    for q in qualities:
        bpp = psnr_sum = msssim = mse_sum = 0.0
        for img in images.images:
            x = img[None].to(device)
            h, w = x.shape[-2:]
            xp = F.pad(x, (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")
            enc = coder.compress(xp, q)
            nbytes = sum(len(s[0]) for s in enc["strings"])
            x_hat = coder.decompress(enc["strings"], coder.latent_shape(*xp.shape[-2:]), q)["x_hat"][..., :h, :w]
            mse = torch.mean((x_hat - x) ** 2).item()
            bpp += 8 * nbytes / (h * w)
            mse_sum += mse
            psnr_sum += psnr(mse)
            msssim += ms_ssim(x_hat, x, data_range=1.0).item() if min(h, w) > 160 else math.nan
        n = len(images.images)
        rows.append({"quality": q, "bpp": bpp / n, "psnr": psnr_sum / n, "ms_ssim": msssim / n,
                     "rd_loss": lambda_for_quality(q) * 255**2 * mse_sum / n + bpp / n})
    return rows
