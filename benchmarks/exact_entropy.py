"""What exact entropy parameters cost, and what they buy, on UC Merced val/.

For each image and quality preset the codec codes the image twice: with its own float
entropy parameters (format 1) and with the exact fixed-point ones (format 2). Printed per
preset: coded bytes → bpp (streams only), PSNR of the decode, encode and decode times, and
what happens when the decoder imitates another device (``other_summation_order``: every
convolution of the entropy model sums its channels in another order) or runs on another
thread count: for the float path, how many images get a different latent at all and how
many diverge (some |Δŷ| ≥ 0.5, i.e. a symbol decoded wrongly); for the exact path, how many
checksums differ. Example::

    python benchmarks/exact_entropy.py --val ../shared/data/ucmerced/val --images 42 --threads 1
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ldmrsic_core.models.codec import STRIDE
from ldmrsic_core.models.exact import activation_headroom, other_summation_order
from ldmrsic_core.tiling import padded
from ldmrsic_core.training.data import find_images, load_image
from ldmrsic_core.zoo.registry import load_codec


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    a8, b8 = (a.clamp(0, 1) * 255).round(), (b * 255).round()
    return 10 * math.log10(255**2 / max(float(((a8 - b8) ** 2).mean()), 1e-12))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def float_latent(net, strings, shape, reorder: bool) -> torch.Tensor:
    if reorder:
        with other_summation_order(net.latent_codec):
            return net.latent_codec.decompress(strings, shape)["y_hat"]
    return net.latent_codec.decompress(strings, shape)["y_hat"]


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--images", type=int, default=42, help="every n-th image so that this many are used")
    parser.add_argument("--model", default="elic-small-ucm-1")
    parser.add_argument("--threads", type=int, default=1, help="threads for the timed runs")
    parser.add_argument("--other-threads", type=int, default=2, help="thread count of the cross-check decode")
    args = parser.parse_args()

    files = find_images(args.val)
    files = files[:: max(1, len(files) // args.images)][: args.images]
    codec = load_codec(args.model)
    net = codec.model
    rows = []
    headroom = math.inf
    for path in files:
        image = torch.from_numpy(load_image(path))[None]  # float32 in [0, 1]
        h, w = image.shape[-2:]
        x = F.pad(image, (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")
        shape = net.latent_shape(*x.shape[-2:])
        for q in (1.0, 2.0, 3.0, 4.0, 5.0):
            torch.set_num_threads(args.threads)
            enc_f, t_enc_f = timed(lambda: net.compress(x, q))
            enc_x, t_enc_x = timed(lambda: net.compress(x, q, exact=True))
            dec_f, t_dec_f = timed(lambda: net.decompress(enc_f["strings"], shape, q))
            dec_x, t_dec_x = timed(lambda: net.decompress(enc_x["strings"], shape, q, exact=True))
            # Another device for the float path: the same streams, sums in another order.
            y_ref = float_latent(net, enc_f["strings"], shape, reorder=False)
            y_other = float_latent(net, enc_f["strings"], shape, reorder=True)
            gap = float((y_ref - y_other).abs().max())
            with other_summation_order(net.exact_latent_codec()):
                other_x = net.decompress(enc_x["strings"], shape, q, exact=True)["checksums"]
            torch.set_num_threads(args.other_threads)
            threads_x = net.decompress(enc_x["strings"], shape, q, exact=True)["checksums"]
            threads_f = float_latent(net, enc_f["strings"], shape, reorder=False)
            if q == 5.0:
                exact = net.exact_latent_codec()
                y = (net.g_a(x) * net.gains(q)[0]).to(torch.float64)

                def run():
                    with torch.no_grad():
                        exact.compress(y)

                headroom = min(headroom, activation_headroom(exact, run))
            rows.append({
                "q": q, "pixels": h * w,
                "bytes_f": sum(len(s[0]) for s in enc_f["strings"]),
                "bytes_x": sum(len(s[0]) for s in enc_x["strings"]),
                "psnr_f": psnr(dec_f["x_hat"][..., :h, :w], image),
                "psnr_x": psnr(dec_x["x_hat"][..., :h, :w], image),
                "t_enc_f": t_enc_f, "t_enc_x": t_enc_x, "t_dec_f": t_dec_f, "t_dec_x": t_dec_x,
                "other_differs_f": gap > 0, "other_diverges_f": gap >= 0.5,
                "threads_differs_f": not torch.equal(threads_f, y_ref),
                "other_mismatch_x": other_x != enc_x["checksums"],
                "threads_mismatch_x": threads_x != enc_x["checksums"],
            })
    print(f"model {codec.name} (SHA-256 {codec.sha256[:16]}…), {len(files)} images, timed on {args.threads} "
          f"thread(s), cross-check decode on {args.other_threads}; activation headroom ≥ {headroom:.1f} bits")
    print("| q | bpp float | bpp exact | Δ rate | PSNR float | PSNR exact | enc ms float / exact | "
          "dec ms float / exact | float: other order differs / diverges | float: other threads differ | "
          "exact: checksum mismatches (order, threads) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for q in (1.0, 2.0, 3.0, 4.0, 5.0):
        r = [row for row in rows if row["q"] == q]
        n = len(r)
        pix = sum(row["pixels"] for row in r)
        bf, bx = (8 * sum(row[k] for row in r) / pix for k in ("bytes_f", "bytes_x"))

        def mean(key: str, r=r) -> float:
            return sum(row[key] for row in r) / len(r)

        def count(key: str, r=r) -> int:
            return sum(bool(row[key]) for row in r)

        print(f"| {q:g} | {bf:.4f} | {bx:.4f} | {100 * (bx / bf - 1):+.2f}% | {mean('psnr_f'):.3f} | "
              f"{mean('psnr_x'):.3f} | {1000 * mean('t_enc_f'):.0f} / {1000 * mean('t_enc_x'):.0f} | "
              f"{1000 * mean('t_dec_f'):.0f} / {1000 * mean('t_dec_x'):.0f} | "
              f"{count('other_differs_f')}/{n} / {count('other_diverges_f')}/{n} | {count('threads_differs_f')}/{n} | "
              f"{count('other_mismatch_x')}/{n}, {count('threads_mismatch_x')}/{n} |")


if __name__ == "__main__":
    main()
