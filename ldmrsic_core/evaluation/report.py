"""The evaluation's files: per-image CSV, averaged RD table, BD table, plots, crops and report."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from ldmrsic_core.evaluation.bjontegaard import bd_psnr, bd_rate
from ldmrsic_core.evaluation.tables import FIELDS, write_csv

CROP = 160


def average(rows: list[dict]) -> list[dict]:
    """Mean bpp, PSNR, MS-SSIM and times per codec and setting (over images), in input order."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["codec"], row["setting"]), []).append(row)
    out = []
    for (codec, setting), items in groups.items():
        mean = {k: float(np.nanmean([r[k] for r in items])) if not all(math.isnan(r[k]) for r in items) else math.nan
                for k in ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s")}
        out.append({"codec": codec, "setting": setting, "images": len(items), **mean})
    return out


def curve(table: list[dict], codec: str) -> tuple[list[float], list[float]]:
    points = sorted((r["bpp"], r["psnr"]) for r in table if r["codec"] == codec and math.isfinite(r["psnr"]))
    return [p[0] for p in points], [p[1] for p in points]


def bd_table(table: list[dict], codecs: tuple[str, ...], references: list[str]) -> list[dict]:
    rows = []
    for ref in references:
        for codec in codecs:
            if codec == ref:
                continue
            (r1, p1), (r2, p2) = curve(table, ref), curve(table, codec)
            try:
                rate, gain = bd_rate(r1, p1, r2, p2), bd_psnr(r1, p1, r2, p2)
            except ValueError:
                rate = gain = math.nan
            rows.append({"codec": codec, "reference": ref, "bd_rate_percent": rate, "bd_psnr_db": gain})
    return rows


def _plots(work: Path, table: list[dict], codecs: tuple[str, ...]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for key, label, name in (("psnr", "PSNR (dB)", "psnr_bpp.png"), ("ms_ssim", "MS-SSIM", "msssim_bpp.png")):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
        for codec in codecs:
            pts = sorted((r["bpp"], r[key]) for r in table if r["codec"] == codec and math.isfinite(r[key]))
            if pts:
                ax.plot(*zip(*pts), marker="o", label=codec, linewidth=2 if codec.startswith("ldmrsic") else 1)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"no {label} values (MS-SSIM needs images over 160 px)", ha="center",
                    transform=ax.transAxes)
        fig.tight_layout()
        fig.savefig(work / name)
        plt.close(fig)


def _crops(work: Path, image, keep: dict) -> str:
    """Original, JPEG2000 and ours (without and with enhancement) at similar bpp, centre crop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ldmrsic_core.bands import to_channels

    ours = sorted(s for (c, s) in keep if c in ("ldmrsic", "ldmrsic-noenh"))
    if not ours:
        return ""
    q = ours[len(ours) // 2]
    target = keep.get(("ldmrsic", q), keep.get(("ldmrsic-noenh", q)))[0]
    panels = [("original", image.unit)]
    jp2 = [(abs(bpp - target), s) for (c, s), (bpp, _) in keep.items() if c == "jpeg2000"]
    if jp2:
        s = min(jp2)[1]
        panels.append((f"JPEG2000 {keep[('jpeg2000', s)][0]:.3f} bpp", keep[("jpeg2000", s)][1]))
    for codec, label in (("ldmrsic-noenh", "ours, codec alone"), ("ldmrsic", "ours, enhanced")):
        if (codec, q) in keep:
            panels.append((f"{label} {keep[(codec, q)][0]:.3f} bpp", keep[(codec, q)][1]))
    h, w = image.unit.shape[1:]
    r0, c0 = max(0, (h - CROP) // 2), max(0, (w - CROP) // 2)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.5), dpi=110)
    for ax, (title, unit) in zip(np.atleast_1d(axes), panels):
        rgb = to_channels(unit, [0, 1, 2][: min(3, unit.shape[0])])[:, r0:r0 + CROP, c0:c0 + CROP]
        ax.imshow(np.clip(rgb.transpose(1, 2, 0), 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(work / "crops.png")
    plt.close(fig)
    return f"{image.path.name}, centre {CROP}×{CROP}, ours at quality {q:g}"


def _md_table(rows: list[dict], fields: list[str]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(cell(r[f]) for f in fields) + " |" for r in rows]
    return "\n".join(lines)


def write_report(work: Path, rows: list[dict], files: list[Path], first, keep: dict, codecs: tuple[str, ...],
                 anchor: str | None) -> None:
    write_csv(work / "per_image.csv", rows, FIELDS)
    table = average(rows)
    table_fields = ["codec", "setting", "images", "bpp", "psnr", "ms_ssim", "encode_s", "decode_s"]
    write_csv(work / "rd_table.csv", table, table_fields)
    references = [c for c in dict.fromkeys(["jpeg2000", anchor]) if c and c in codecs]
    bd = bd_table(table, codecs, references)
    bd_fields = ["codec", "reference", "bd_rate_percent", "bd_psnr_db"]
    write_csv(work / "bd.csv", bd, bd_fields)
    _plots(work, table, codecs)
    crop_note = _crops(work, first, keep)
    md = [f"# ldmrsic-geo evaluation\n\n{len(files)} images; codecs: {', '.join(codecs)}.\n",
          "bpp = 8 × bytes / pixels (whole .ldmr file for ours; codestream/file for the others); PSNR over valid "
          "pixels of all bands at the data's peak; MS-SSIM over groups of three bands (NaN for images ≤ 160 px).\n",
          "## BD-rate (PSNR) and BD-PSNR\n", _md_table(bd, bd_fields) if bd else "(needs two codecs)",
          "\n## Averaged rate–distortion\n", _md_table(table, table_fields),
          "\n## Plots\n", "![PSNR–bpp](psnr_bpp.png)\n", "![MS-SSIM–bpp](msssim_bpp.png)\n"]
    if crop_note:
        md += ["\n## Side by side\n", f"{crop_note}\n", "![crops](crops.png)\n"]
    (work / "report.md").write_text("\n".join(md))
    body = "".join(f"<h2>{html.escape(t)}</h2>{_html_table(r, f)}" for t, r, f in (
        ("BD-rate (PSNR) and BD-PSNR", bd, bd_fields), ("Averaged rate–distortion", table, table_fields)))
    images = "".join(f'<p><img src="{n}" alt="{n}"></p>' for n in ("psnr_bpp.png", "msssim_bpp.png", "crops.png")
                     if (work / n).exists())
    (work / "report.html").write_text(f"<!doctype html><meta charset=utf-8><title>ldmrsic-geo evaluation</title>"
                                      f"<h1>ldmrsic-geo evaluation</h1><p>{len(files)} images</p>{body}{images}")


def _html_table(rows: list[dict], fields: list[str]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))
    head = "".join(f"<th>{f}</th>" for f in fields)
    body = "".join("<tr>" + "".join(f"<td>{cell(r[f])}</td>" for f in fields) + "</tr>" for r in rows)
    return f"<table border=1 cellspacing=0 cellpadding=3><tr>{head}</tr>{body}</table>"
