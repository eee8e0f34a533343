"""The slider PNG encoders compared on every slider's figure, in one process (issue 17, target 4).

``COURSE_CACHE_DIR=<a prepared cache> python -m benchmarks.png_encoders`` draws each slider's figure
once (the models come from the cache; fast-mode ones with ``COURSE_FAST=1``). It then times each
encoder 9 times: the course's (``widgets._encode_png``) and Pillow's PNG of the same pixels, as RGB
and as RGBA (what the sliders sent before session 11). It prints ms and kB per slider and the
median over the sliders. Session 11's figures: ``results/session11_png_encoders.txt``.
"""
from __future__ import annotations

import io
import time

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import widgets  # noqa: E402

from .widgets_response import SLIDERS  # noqa: E402


def pillow_png(pixels: np.ndarray, rgb: bool) -> bytes:
    """Pillow's PNG of ``pixels`` (H, W, 4) uint8, at the level the sliders used (1)."""
    buf = io.BytesIO()
    image = Image.fromarray(pixels)
    (image.convert("RGB") if rgb else image).save(buf, format="png", compress_level=1)
    return buf.getvalue()


ENCODERS = {"ours": widgets._encode_png,
            "pillow_rgb": lambda p: pillow_png(p, True),
            "pillow_rgba": lambda p: pillow_png(p, False)}


def main(repeats: int = 9) -> dict:
    medians: dict[str, list[float]] = {k: [] for k in ENCODERS}
    for label, (nb, fname, kw, values) in SLIDERS.items():
        fn = getattr(widgets, fname)
        fig, _ = fn(**{kw: values()[0]})
        widgets.render_png(fig)
        pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
        res = {}
        for name, encode in ENCODERS.items():
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                png = encode(pixels)
                times.append(time.perf_counter() - t)
            res[name] = (float(np.median(times)) * 1000, len(png) // 1024)
            medians[name].append(res[name][0])
        print(f"{nb} {label:22s} {pixels.shape[1]}x{pixels.shape[0]}",
              "  ".join(f"{k} {ms:.1f} ms {kb} kB" for k, (ms, kb) in res.items()), flush=True)
    summary = {k: round(float(np.median(v)), 1) for k, v in medians.items()}
    print("median over sliders:", summary)
    return summary


if __name__ == "__main__":
    main()
