"""Smoke tests of the benchmarks (``python -m benchmarks --quick``): every part runs on real MNIST
and reports sane fields. How fast anything is, is the benchmark's business, never a test's."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import (PARTS, course, denoise, denormals, reconstruction, threads, throughput,  # noqa: E402
                        widgets_response)
from benchmarks.__main__ import main  # noqa: E402


def positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def ratio(v) -> bool:
    return positive(v) and v <= 2


def test_gemm_flop_count_of_the_seminar_dae():
    from course_utils.models import count_parameters, seminar_dae

    m = seminar_dae()
    need, full = throughput.gemm_flops_per_sample(m)
    weights = 784 * 512 + 512 * 256 + 256 * 512 + 512 * 784
    assert full == 6 * weights and count_parameters(m) == weights + 512 + 256 + 512 + 784
    assert need == full - 2 * 784 * 512  # the input needs no gradient


def test_throughput_quick():
    r = throughput.run(quick=True)
    assert positive(r["gemm_bound_samples_per_sec"]) and positive(r["tutorial_samples_per_sec"])
    fp32 = r["fit"]["fp32"]
    assert positive(fp32["samples_per_sec"]) and ratio(fp32["ratio_to_bound"])
    assert positive(r["speedup_vs_tutorial"]) and r["speedup_vs_tutorial"] < 100
    assert {row["metric"] for row in r["rows"]} >= {"fit fp32 / GEMM bound", "fit fp32 / tutorial loop"}
    step = r["step_ms"]  # where a step's time goes: phases timed inside real steps, GEMMs alone
    phases = [f"{k}_ms" for k in throughput.PHASES]
    assert all(positive(step[k]) for k in ["fit_step_ms", "gemm_ms", "gemm_forward_ms", *phases])
    assert step["phases_sum_ms"] == pytest.approx(sum(step[k] for k in phases))
    assert step["phases_sum_ms"] <= step["whole_step_best_ms"] + 1e-9 <= step["whole_step_median_ms"] + 2e-9
    assert step["gemm_backward_ms"] == pytest.approx(step["gemm_ms"] - step["gemm_forward_ms"])
    assert step["beside_gemm_ms"] == pytest.approx(step["phases_sum_ms"] - step["gemm_ms"])
    assert ratio(step["ratio_if_only_gemm_noise_adam"]) and step["ratio_if_only_gemm_noise_adam"] < 1
    assert positive(r["three_times_tutorial_over_bound"])


def test_threads_quick_runs_each_contender_under_one_cpu():
    r = threads.run(quick=True)
    assert set(r["contenders"]) == {"default", "1 thread", "2 threads"}
    assert all(positive(c["samples_per_sec"]) for c in r["contenders"].values())
    assert r["contenders"]["1 thread"]["threads"] == 1 and r["contenders"]["2 threads"]["threads"] == 2
    assert r["contenders"]["default"]["threads"] == 1  # one CPU (a quota or the affinity stand-in)
    assert r["limit"]["kind"] in ("cgroup", "affinity") and r["limit"]["how"]


def test_denormals_quick_compares_seminar_and_xavier_trained_and_untrained():
    r = denormals.run(quick=True)
    for state in ("untrained", "trained"):
        assert positive(r[f"seminar_over_xavier_{state}"]) and positive(r[f"seminar_over_xavier_{state}_kept"])
    assert len(r["fit_samples_per_sec"]) == 8 and all(positive(v[0]) for v in r["fit_samples_per_sec"].values())
    assert all(0 <= v < 1 for v in r["denormal_share_of_gradients"].values())


def test_denoise_quick():
    r = denoise.run(quick=True)
    assert r["noisy_input_mse"] == pytest.approx(0.09, rel=0.1)  # σ² = 0.09 for unclipped noise
    assert 0 < r["pca"]["test_mse"] < r["noisy_input_mse"]  # PCA denoising helps
    assert r["pca"]["best_k"] in r["pca"]["val_mse_by_k"]
    for rec in r["recipes"].values():
        assert positive(rec["test_mse"]) and rec["test_mse"] < 1 and positive(rec["epochs_run"])
        assert rec["train_seconds"] < r["budget_s"] + 30  # the budget stops training
    assert positive(r["ours_vs_pca"])


def test_pca_denoise_picks_the_validation_best_k(mnist_small):
    x, _, xt, _ = mnist_small
    p = denoise.pca_denoise(x[:1500], x[1500:], xt, ks=(4, 32, 400))
    assert p["best_k"] == min(p["val_mse_by_k"], key=p["val_mse_by_k"].get)
    assert p["val_mse_by_k"][32] < p["val_mse_by_k"][400]  # too many components keep the noise


def test_reconstruction_quick():
    r = reconstruction.run(quick=True)
    assert positive(r["test_mse"]) and positive(r["pca32_test_mse"])
    assert 0.005 < r["pca32_test_mse"] < 0.03  # PCA-32 on MNIST: about 0.017 per pixel
    assert r["hs2006_per_pixel"] == pytest.approx(3.00 / 784)
    assert positive(r["ratio_to_pca32"]) and positive(r["ratio_to_hs2006"])
    assert r["lr_schedule"] == "cosine" and positive(r["train_mse_first_10k"])
    with pytest.raises(ValueError, match="at most 180 s"):
        reconstruction.run(quick=True, recon_budget=200)


def test_widgets_quick_times_each_callback(prepared_cache):
    r = widgets_response.run(quick=True)   # the prepared cache holds every widget's model
    assert set(r["sliders"]) == set(widgets_response.SLIDERS) and r["no_slider_entry"] == []
    assert set(r["callbacks"]) == {"noise", "latent"}
    for name, entry in r["sliders"].items():
        assert entry["available"] and "error" not in entry, f"{name}: {entry}"
        assert positive(entry["with_render_ms_median"]) and positive(entry["callback_ms_worst"])
        assert entry["with_render_ms_worst"] >= entry["with_render_ms_median"] > 0
        assert entry["judged_ms_median"] == entry["first_visit_ms_median"] > 0   # judged on new values, not revisits


def test_course_quick_runs_a_notebook_in_a_fresh_kernel():
    r = course.run(quick=True)
    fast = r["modes"]["fast"]
    assert len(fast["notebooks"]) == 1 and not fast["failed"]
    (nb,) = fast["notebooks"].values()
    assert positive(nb["wall_s"])
    assert 50 < nb["peak_mb"] < 16_000  # a Python kernel holding torch: tens of MB at the least
    if sys.platform.startswith("linux"):   # and what it holds after Run All, at most its peak
        assert 50 < nb["after_mb"] <= nb["peak_mb"]
    with pytest.raises(ValueError, match="modes must be among"):
        course.run(quick=True, modes=["slow"])


def test_course_cached_mode_reuses_the_full_runs_cache():
    # asking for full-cached alone runs full first (to fill the cache), then again on that cache
    r = course.run(modes=["full-cached"], notebooks=["00_start_here.ipynb"])
    assert list(r["modes"]) == ["full", "full-cached"]
    for mode in r["modes"].values():
        assert not mode["failed"] and positive(mode["total_wall_s"]) and positive(mode["max_peak_mb"])


def test_cli_writes_json_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["--quick", "--only", "throughput", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["parts"]) == {"throughput"} and report["quick"] is True
    assert report["machine"]["cpu_count"] >= 1 and "preliminary" in report
    assert "fit fp32 / GEMM bound" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown part"):
        main(["--only", "nonsense", "--out", str(out)])
    assert set(PARTS) == {"throughput", "threads", "denormals", "denoise", "reconstruction", "widgets", "course",
                          "pair"}


def test_seminar_2000_records_its_curve_as_it_goes(tmp_path):
    import json

    from benchmarks import seminar_2000

    out = tmp_path / "seminar.json"
    r = seminar_2000.run(epochs=3, every=2, device="cpu", out=out, n_train=600, n_test=200)
    saved = json.loads(out.read_text())
    assert saved["epoch"] == [2, 3] and saved["epochs_done"] == 3 and "finished" in saved
    assert saved["recipe"]["init"] == "normal" and saved["recipe"]["lr"] == 0.01 and saved["recipe"]["batch_size"] == 300
    assert abs(saved["do_nothing_mse"] - 0.09) < 0.01                # σ² of the unclipped noise
    assert all(len(s) == 3 and all(0 <= v <= 1 for v in s) for s in saved["saturated"])
    assert saved["machine"] and saved["command"].startswith("python -m benchmarks.seminar_2000")
    assert r["test_mse"] == saved["test_mse"]
    with pytest.raises(ValueError, match="epochs and every must be positive"):
        seminar_2000.run(epochs=0, out=out)


def test_the_png_encoder_benchmark_compares_encodings_of_the_same_pixels():
    import io

    import numpy as np
    from PIL import Image

    from benchmarks import png_encoders

    pixels = np.random.default_rng(1).integers(0, 256, (30, 40, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    decoded = [np.asarray(Image.open(io.BytesIO(encode(pixels))).convert("RGBA"))
               for encode in png_encoders.ENCODERS.values()]
    assert all(np.array_equal(d, pixels) for d in decoded)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_resident_names_what_the_kernel_holds_after_run_all():
    from benchmarks import resident

    r = resident.measure(ROOT / "notebooks" / "00_start_here.ipynb", top=5)
    mb = r["mb"]
    assert mb["RssAnon"] + mb["RssFile"] <= mb["VmRSS"] + 2 <= mb["VmHWM"] + 2 and mb["RssAnon"] > 0
    assert [name for _, names in r["largest"] for name in names][0] == "x_test"   # 00's test images, the largest
    assert r["tensors_mb"] >= r["largest"][0][0] > 0
    with pytest.raises(FileNotFoundError, match="expected a notebook"):
        resident.measure(ROOT / "README.md")
    with pytest.raises(ValueError, match="top must be"):
        resident.measure(ROOT / "notebooks" / "00_start_here.ipynb", top=0)
