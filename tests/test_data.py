import shutil
import time

from pathlib import Path

import pytest
import torch

from course_utils import data
from course_utils.data import MNISTError, add_noise, ensure_mnist, load_mnist

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_full_splits_shapes_ranges_and_label_counts():
    x, y = load_mnist("train")
    assert x.shape == (60_000, 784) and x.dtype == torch.float32
    assert y.shape == (60_000,) and y.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert y.bincount().tolist() == TRAIN_COUNTS
    xt, yt = load_mnist("test")
    assert xt.shape == (10_000, 784)
    assert yt.bincount().tolist() == TEST_COUNTS
    # the mean grey level of MNIST training images is a well-known 0.1307
    assert abs(float(x.mean()) - 0.1307) < 1e-3


def test_cached_load_is_fast():
    load_mnist("train")
    t = time.perf_counter()
    load_mnist("train")
    elapsed = time.perf_counter() - t
    print(f"cached load of the training split: {elapsed * 1000:.0f} ms")  # a figure, not a gate
    assert elapsed < 5  # only catches per-sample Python loops, never machine noise


def test_subset_is_balanced_and_deterministic():
    x1, y1 = load_mnist("train", n=1000, seed=3)
    x2, y2 = load_mnist("train", n=1000, seed=3)
    x3, _ = load_mnist("train", n=1000, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert y1.bincount().tolist() == [100] * 10
    _, y = load_mnist("test", n=25, seed=0)
    counts = y.bincount(minlength=10)
    assert int(counts.sum()) == 25 and int(counts.max() - counts.min()) <= 1


def test_returned_tensors_are_copies():
    x, _ = load_mnist("test", n=10)
    x.zero_()
    x2, _ = load_mnist("test", n=10)
    assert float(x2.sum()) > 0


def test_loads_keep_no_raw_copy_and_never_hand_out_the_file_mapping(tmp_path):
    # the uint8 files are memory-mapped for each load, read-only, and nothing keeps a mapping after it
    raw = ensure_mnist()
    images, labels = data._load_split(str(raw), "test")
    assert isinstance(images, data.np.memmap) and not images.flags.writeable and images.shape == (10_000, 784)
    del images, labels
    x, _ = load_mnist("test", n=10)
    x[0, 0] = 1.0  # its own memory, writable (a view of the read-only mapping would not be), file unchanged
    assert float(load_mnist("test", n=10)[0][0, 0]) == 0.0
    # a file whose header is not an IDX images header is refused with the file named
    bad = tmp_path / "t10k-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01" + bytes(20))
    with pytest.raises(MNISTError, match="not an IDX file"):
        data._read_idx(bad, 2051)


def test_shared_images_lend_the_callers_unchanged_copy():
    x, _ = load_mnist("train", n=3000, seed=5)
    shared = data.shared_images("train", n=3000, seed=5, chunk=700)  # chunks that do not divide N
    assert shared is x  # no second copy while the caller holds an unchanged one
    assert data.shared_images("train", n=3000, seed=6) is not x  # other arguments, other images
    x[2999, 400] += 1e-3  # a learner's in-place change, in the last (short) chunk
    fresh = data.shared_images("train", n=3000, seed=5, chunk=700)
    assert fresh is not x
    assert data.shared_images("train", n=3000, seed=5) is fresh  # from then on, fresh is lent
    assert torch.equal(fresh, load_mnist("train", n=3000, seed=5)[0])
    assert float(fresh[2999, 400]) != float(x[2999, 400])


def test_shared_images_load_when_nothing_is_held():
    x, _ = load_mnist("test", n=50, seed=1)
    del x  # the caller dropped its copy: nothing to lend
    shared = data.shared_images("test", n=50, seed=1)
    assert torch.equal(shared, load_mnist("test", n=50, seed=1)[0])
    full = data.shared_images("test")  # the whole split, no subset indices
    assert full.shape == (10_000, 784) and data.shared_images("test") is full


def test_shared_images_never_lend_a_tensor_that_was_reshaped_or_made_trainable():
    x, _ = load_mnist("test", n=40, seed=2)
    x.requires_grad_(True)
    assert data.shared_images("test", n=40, seed=2) is not x
    y, _ = load_mnist("test", n=40, seed=3)
    y.resize_(20, 784)  # in place: same object, other shape
    assert data.shared_images("test", n=40, seed=3).shape == (40, 784)


def test_noisy_test_lends_the_notebooks_test_images_not_a_copy():
    x_test, _ = data.mnist_test()
    clean, noisy = data.noisy_test("gaussian", 0.3)
    assert clean is x_test  # notebook 06 keeps three such pairs: no 31 MB copy per pair
    sub, _ = data.noisy_test("masking", 0.5, n=7)
    assert sub.data_ptr() == x_test.data_ptr() and sub.shape == (7, 784)  # the first rows, no copy
    assert torch.equal(noisy, data.noisy_test("gaussian", 0.3)[1])  # the one fixed noisy copy
    assert noisy.data_ptr() != x_test.data_ptr()
    x_test[0, 0] = 0.5  # the learner changed their copy: what noisy_test gives is the test set again
    clean2, noisy2 = data.noisy_test("gaussian", 0.3)
    assert clean2 is not x_test and float(clean2[0, 0]) == 0.0 and torch.equal(noisy2, noisy)


@pytest.mark.parametrize("bad", [dict(chunk=0), dict(chunk=2.5), dict(chunk=True), dict(n=0), dict(split="val")])
def test_shared_images_bad_arguments(bad):
    with pytest.raises(ValueError, match="chunk|split|n must"):
        data.shared_images(**{"split": "test", **bad})


@pytest.mark.parametrize("bad", [dict(split="validation"), dict(n=0), dict(n=10**6), dict(n=2.5)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match="split|n must"):
        load_mnist(**{"split": "test", **bad})


def _copy_mnist(tmp_path):
    src = ensure_mnist(download=False)
    dst = tmp_path / "MNIST" / "raw"
    shutil.copytree(src, dst)
    return dst


def test_corrupted_file_is_caught_by_md5(tmp_path):
    raw = _copy_mnist(tmp_path)
    f = raw / "t10k-labels-idx1-ubyte"
    f.chmod(0o644)
    blob = bytearray(f.read_bytes())
    blob[100] ^= 0xFF  # same size, one byte flipped
    f.write_bytes(bytes(blob))
    with pytest.raises(MNISTError) as err:
        load_mnist("test", root=tmp_path)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and "md5" in msg and str(raw) in msg
    assert "To fix it" in msg


def test_truncated_file_is_reported(tmp_path):
    raw = _copy_mnist(tmp_path)
    f = raw / "train-labels-idx1-ubyte"
    f.chmod(0o644)
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(MNISTError, match="train-labels-idx1-ubyte.*1000 bytes"):
        load_mnist("train", root=tmp_path)


def test_offline_missing_files_give_one_clear_error(tmp_path, monkeypatch):
    """No network here: a missing file triggers a download attempt that fails cleanly."""
    import torchvision.datasets.mnist as tv_mnist

    # point torchvision at an address that cannot answer, so the test is offline-proof anywhere
    monkeypatch.setattr(tv_mnist.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(MNISTError) as err:
        load_mnist("test", root=tmp_path)
    msg = str(err.value)
    raw = tmp_path / "MNIST" / "raw"
    assert str(raw) in msg and "could not be downloaded" in msg
    assert "t10k-images-idx3-ubyte" in msg and "COURSE_DATA_DIR" in msg
    # nothing half-written is left behind: no MNIST file and no temporary download folder
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []
    assert not any(p.name.startswith(".mnist-download-") for p in tmp_path.iterdir())


def test_missing_file_without_download(tmp_path):
    raw = _copy_mnist(tmp_path)
    (raw / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(MNISTError, match="t10k-images-idx3-ubyte is missing"):
        ensure_mnist(tmp_path, download=False)


def test_gaussian_noise_statistics_and_reproducibility():
    x = torch.full((200, 784), 0.5)
    g = torch.Generator().manual_seed(0)
    noisy = add_noise(x, "gaussian", 0.3, generator=g)
    d = noisy - x
    assert abs(float(d.mean())) < 0.005 and abs(float(d.std()) - 0.3) < 0.005
    again = add_noise(x, "gaussian", 0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)
    assert float(noisy.max()) > 1.0  # the seminar does not clip
    clipped = add_noise(x, "gaussian", 0.3, clip=True, generator=torch.Generator().manual_seed(0))
    assert float(clipped.min()) >= 0 and float(clipped.max()) <= 1


def test_masking_and_salt_pepper_statistics():
    x = torch.full((100, 784), 0.5)
    g = torch.Generator().manual_seed(1)
    masked = add_noise(x, "masking", 0.25, generator=g)
    assert abs(float((masked == 0).float().mean()) - 0.25) < 0.01
    assert set(torch.unique(masked).tolist()) == {0.0, 0.5}
    sp = add_noise(x, "salt_pepper", 0.2, generator=g)
    assert abs(float((sp != 0.5).float().mean()) - 0.2) < 0.01
    assert abs(float((sp == 1).float().mean()) - 0.1) < 0.01
    assert torch.equal(add_noise(x, "masking", 0.0), x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="gaussian", level=-0.1), "level must be >= 0"),
    (dict(kind="speckle", level=0.1), "unknown noise kind"),
    (dict(kind="masking", level=1.5), "probability"),
    (dict(kind="gaussian", level=float("nan")), "finite"),
])
def test_bad_noise_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        add_noise(torch.zeros(2, 784), **kwargs)


def test_noise_rejects_non_float_input():
    with pytest.raises(ValueError, match="floating-point"):
        add_noise(torch.zeros(2, 784, dtype=torch.uint8))
    with pytest.raises(ValueError, match="torch.Tensor"):
        add_noise([0.0, 1.0])


def test_md5_table_matches_published_readme():
    assert data.MNIST_FILES["train-images-idx3-ubyte"] == (47040016, "6bbc9ace898e44ae57da46a324031adb")


# --- issue 21: bad inputs get one clear error ------------------------------------------------------

@pytest.mark.parametrize("x, match", [
    # seeded: an unseeded max could round to "255" in the message (1 run in ~200), which the pattern allows too
    (torch.rand(3, 784, generator=torch.Generator().manual_seed(0)) * 255,
     r"expected pixel values in \[0, 1\], got max 25\d(\.\d+)? — divide by 255"),
    ((torch.rand(3, 784) * 255).to(torch.uint8), r"floating-point tensor, got dtype torch\.uint8 — convert with x\.float\(\) / 255"),
    (torch.full((3, 784), float("nan")), "x contains NaN or infinite values"),
    (torch.full((3, 784), float("inf")), "x contains NaN or infinite values"),
])
def test_add_noise_refuses_unscaled_integer_and_non_finite_images(x, match):
    with pytest.raises(ValueError, match=match):
        add_noise(x)


def test_add_noise_keeps_other_float_dtypes():
    x = torch.rand(3, 784, dtype=torch.float64)
    assert add_noise(x, generator=torch.Generator().manual_seed(0)).dtype == torch.float64


@pytest.mark.parametrize("kwargs, match", [
    (dict(root=5), r"root must be a folder \(a str or Path\).*got 5"),
    (dict(seed=-1), r"seed must be an integer in 0\.\.2\*\*32 - 1, got -1"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(seed="0"), "seed must be an integer"),
])
def test_load_mnist_bad_root_and_seeds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist("test", n=10, **kwargs)


def test_odd_data_folders_get_a_precise_message_not_missing(tmp_path):
    """A compressed-only file, or a folder where a file should be, is named as such (not as
    'missing, could not be downloaded'), before any download is tried."""
    import gzip
    import os
    import shutil

    from course_utils.data import MNIST_FILES, MNISTError, ensure_mnist

    src = Path(os.environ["COURSE_DATA_DIR"]) / "MNIST" / "raw"
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copyfile(src / name, raw / name)
    name = "t10k-labels-idx1-ubyte"
    with open(raw / name, "rb") as f, gzip.open(raw / (name + ".gz"), "wb") as g:
        g.write(f.read())
    (raw / name).unlink()
    with pytest.raises(MNISTError, match=r"is missing, but t10k-labels-idx1-ubyte.gz is there: uncompress it"):
        ensure_mnist(tmp_path, download=True)
    (raw / (name + ".gz")).unlink()
    (raw / name).mkdir()
    with pytest.raises(MNISTError, match="is a folder, not a file"):
        ensure_mnist(tmp_path, download=True)
    (raw / name).rmdir()
    shutil.copyfile(src / name, raw / name)
    if os.geteuid() != 0:  # root reads any file: the permission case can only be seen as another user
        (raw / name).chmod(0)
        with pytest.raises(MNISTError, match=r"cannot be read .*chmod a\+r"):
            ensure_mnist(tmp_path, download=True)
        (raw / name).chmod(0o644)
    assert ensure_mnist(tmp_path, download=False) == raw


def test_image_chunks_give_load_mnists_rows_in_order_one_chunk_at_a_time():
    mnist_dir = None                                        # the course's data folder (COURSE_DATA_DIR)
    from course_utils.data import image_chunks, load_mnist, shared_images

    x = load_mnist("test", n=250, root=mnist_dir, seed=3)[0].clone()
    parts = list(image_chunks("test", n=250, root=mnist_dir, seed=3, chunk=100))
    assert [len(p) for p in parts] == [100, 100, 50] and all(p.dtype == torch.float32 for p in parts)
    assert torch.equal(torch.cat(parts), x)
    held = shared_images("test", n=250, root=mnist_dir, seed=3)        # a changed shared copy is not what it gives
    held[0, 0] = 0.5
    first = next(image_chunks("test", n=250, root=mnist_dir, seed=3, chunk=100))
    assert torch.equal(first, x[:100]) and first[0, 0] != held[0, 0]
    assert torch.equal(torch.cat(list(image_chunks("test", root=mnist_dir, chunk=4000))), load_mnist("test", root=mnist_dir)[0])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="chunk"):
            image_chunks("test", n=10, root=mnist_dir, chunk=bad)
    with pytest.raises(ValueError, match="split"):
        image_chunks("val", root=mnist_dir)                          # refused before the first chunk


def test_nearest_distance_is_the_distance_to_the_nearest_reference_row_in_any_chunking():
    from course_utils.data import nearest_distance

    g = torch.Generator().manual_seed(0)
    x, ref = torch.rand(37, 784, generator=g), torch.rand(500, 784, generator=g)
    exact = torch.cdist(x.double(), ref.double()).min(1).values.float()
    for chunk in (1, 8, 256):
        d = nearest_distance(x, ref, chunk=chunk)
        assert d.shape == (37,) and d.dtype == torch.float32
        assert torch.allclose(d, exact, rtol=1e-5, atol=1e-3)
    # a row of the reference is at (about) 0 from it; a row moved by 0.1 in one pixel is at 0.1
    near = ref[:3].clone()
    near[1, 0] += 0.1
    d = nearest_distance(near, ref)
    assert d[0] < 0.02 and abs(float(d[1]) - 0.1) < 0.02
    for bad in (dict(x=x[:, :10], reference=ref), dict(x=x.long(), reference=ref), dict(x=x, reference=ref[:0]),
                dict(x=x, reference=ref, chunk=0), dict(x=torch.full((2, 784), float("nan")), reference=ref)):
        with pytest.raises(ValueError):
            nearest_distance(**{"chunk": 256, **bad})


def _mapped_from(x: torch.Tensor, path: Path) -> bool:
    """Whether ``x``'s memory lies in a mapping of ``path`` (Linux's /proc/self/maps)."""
    ptr = x.untyped_storage().data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *rest = line.split()
        lo, hi = (int(v, 16) for v in span.split("-"))
        if lo <= ptr < hi:
            return len(rest) >= 5 and rest[-1] == str(path)
    return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc/self/maps")
def test_a_whole_split_is_a_private_mapping_of_a_verified_float_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    x, y = load_mnist("test")
    path = data.float_file("test")
    assert path.parent == tmp_path / "images" and path.stat().st_size == 10_000 * 784 * 4 + 128
    assert _mapped_from(x, path)  # the file cache's pages, not this process's own copy
    raw = data._load_split(str(ensure_mnist()), "test")[0]
    assert torch.equal(x, data._to_float(raw)) and y.bincount().tolist() == TEST_COUNTS
    before = path.read_bytes()
    x[0].fill_(0.25)  # a learner's in-place change: copied privately, the file stays as it was
    assert path.read_bytes() == before
    again, _ = load_mnist("test", n=10_000)  # a balanced subset of every image: the same whole split
    assert float(again[0, 0]) == 0.0 and _mapped_from(again, path) and again.data_ptr() != x.data_ptr()
    assert data.shared_images("test") is again  # lent: x was changed
    # subsets stay plain copies
    assert not _mapped_from(load_mnist("test", n=100)[0], path)


@pytest.mark.parametrize("damage", ["flipped bit", "truncated", "not npy", "other shape"])
def test_a_damaged_float_file_is_rebuilt_never_used(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    good = data._to_float(data._load_split(str(ensure_mnist()), "test")[0])
    load_mnist("test")  # writes the float file
    path = data.float_file("test")
    blob = bytearray(path.read_bytes())
    if damage == "flipped bit":
        blob[-4 * 784 * 17 + 1] ^= 0x40   # one pixel of image 9983
    elif damage == "truncated":
        blob = blob[: len(blob) // 2]
    elif damage == "not npy":
        blob = bytearray(b"not a numpy file")
    else:
        data.np.save(path, data.np.zeros((10, 784), data.np.float32))
        blob = bytearray(path.read_bytes())
    path.write_bytes(bytes(blob))
    x, _ = load_mnist("test")
    assert torch.equal(x, good)
    if Path("/proc/self/maps").exists():
        assert _mapped_from(x, path)  # the rebuilt file is used, as a mapping again
    assert path.stat().st_size == 10_000 * 784 * 4 + 128  # rebuilt in place of the damaged one
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp file left behind


def test_without_a_writable_cache_or_with_mapping_off_a_whole_split_is_a_plain_copy(tmp_path, monkeypatch):
    good = data._to_float(data._load_split(str(ensure_mnist()), "test")[0])
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")  # images/ cannot be made under it
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker))
    x, _ = load_mnist("test")
    assert torch.equal(x, good) and blocker.read_text().startswith("a file")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("COURSE_MAP_IMAGES", "0")
    x, _ = load_mnist("test")
    assert torch.equal(x, good) and not data.float_file("test").exists()
