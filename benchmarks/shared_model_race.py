"""Do two threads sharing one codec decode the same tile to the same latent? (BENCHMARKS.md, "The CPU path (3)")

    python benchmarks/shared_model_race.py [--decodes 200] [--compressai-forward]

One model, one 64² tile coded with float entropy parameters (format 1's path, which no checksum
guards), decoded ``--decodes`` times on each of two threads at once; prints how many latents differ
from a decode made alone. ``--compressai-forward`` puts back CompressAI's checkerboard ``forward``
(it rebinds ``weight.data`` at every call) to show the race the project's class removes.
"""

from __future__ import annotations

import argparse
import threading

import torch
from compressai.layers import CheckerboardMaskedConv2d

from ldmrsic_core.models.codec import ThreadSafeCheckerboardConv
from ldmrsic_core.zoo.configs import CODEC_CONFIGS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decodes", type=int, default=200, help="decodes per thread")
    parser.add_argument("--compressai-forward", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)
    net = CODEC_CONFIGS["elic-tiny"].build().eval()
    net.update(force=True)
    if args.compressai_forward:
        for module in net.modules():
            if isinstance(module, ThreadSafeCheckerboardConv):
                module.__class__ = CheckerboardMaskedConv2d
    coded = net.compress(torch.rand(1, 3, 64, 64), 3.0, exact=False)
    alone = net.latent_codec.decompress(coded["strings"], coded["shape"])["y_hat"]
    differ = [0]

    def decode_many() -> None:
        torch.set_grad_enabled(False)
        torch.set_num_threads(1)
        for _ in range(args.decodes):
            y_hat = net.latent_codec.decompress(coded["strings"], coded["shape"])["y_hat"]
            differ[0] += not torch.equal(y_hat, alone)

    threads = [threading.Thread(target=decode_many) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    which = "CompressAI's forward" if args.compressai_forward else "ThreadSafeCheckerboardConv"
    print(f"{which}: {differ[0]} of {2 * args.decodes} concurrent decodes gave another latent")


if __name__ == "__main__":
    main()
