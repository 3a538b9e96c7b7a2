"""Bounded by what is computed, not only by what is stored: a shared run's model.json cannot
make one prediction resize a picture to 4096 x 4096 and run the model on it (its input is
checked against what its dataset gives, and one forward pass is sized on the meta device before
it runs); a small file declaring a huge picture is decoded at the size the model needs; a
learning-rate test whose first loss is not a number is one line."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from PIL import Image, ImageDraw

from conftest import one_line_error, peak_memory, run_cli, train_small

pytestmark = pytest.mark.hostile


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bn_cnn run (its weights' shapes do not depend on the input's size) and its data."""
    run = train_small(
        tmp_path_factory.mktemp("bounds"), "bn_cnn", "--set", "model.width=8", epochs=1
    )
    return run, run.parents[1] / "mnist.pkl.gz"


@pytest.fixture
def gif(tmp_path):
    picture = Image.new("L", (28, 28))
    ImageDraw.Draw(picture).line((8, 4, 20, 24), fill=255, width=3)
    picture.save(tmp_path / "seven.gif")  # a hundred bytes or so
    return tmp_path / "seven.gif"


def declared(trained, tmp_path, **changes):
    run = tmp_path / "shared"
    shutil.copytree(trained[0], run)
    info = json.loads((run / "model.json").read_text())
    (run / "model.json").write_text(json.dumps(info | changes))
    return run


def test_an_input_shape_its_dataset_cannot_give_is_refused_before_anything_runs(
    trained, tmp_path, gif
):
    run = declared(trained, tmp_path, input_shape=[1, 4096, 4096])
    code, stderr, peak = peak_memory("predict", run, gif, cwd=tmp_path)
    assert code == 1 and "record the input (1, 4096, 4096), but dataset 'mnist' gives" in stderr
    assert "Traceback" not in stderr and peak < 1000, (stderr, peak)  # was 2.4 GB


def test_a_forward_pass_is_sized_before_it_runs(trained, tmp_path, gif):
    # a dataset zoo does not know (nothing to compare the shape with): the meta-device pass
    run = declared(trained, tmp_path, input_shape=[1, 4096, 4096], dataset="pictures")
    config = (run / "config.yaml").read_text().replace("name: mnist", "name: pictures")
    (run / "config.yaml").write_text(config)
    code, stderr, peak = peak_memory("predict", run, gif, cwd=tmp_path)
    assert code == 1 and "one input of (1, 4096, 4096) would take" in stderr, stderr
    assert "GB through model 'bn_cnn'" in stderr and peak < 1000, (stderr, peak)
    fine = declared(trained, tmp_path / "fine", dataset="pictures")  # 28 x 28: it runs
    config = (fine / "config.yaml").read_text().replace("name: mnist", "name: pictures")
    (fine / "config.yaml").write_text(config)
    assert run_cli("predict", fine, gif, cwd=tmp_path).stdout.startswith(str(gif))


def test_a_small_file_declaring_a_huge_picture_is_decoded_at_the_size_needed(tmp_path):
    huge = Image.new("RGBA", (4096, 4096), (0, 0, 0, 0))
    ImageDraw.Draw(huge).line((1000, 500, 3000, 3500), fill=(255, 255, 255, 255), width=300)
    huge.save(tmp_path / "huge.png", optimize=True)
    assert (tmp_path / "huge.png").stat().st_size < 200_000  # 64 MB of pixels
    small = huge.resize((112, 112))
    small.save(tmp_path / "small.png")
    code, _, baseline = peak_memory("predict", "cnn.mnist", tmp_path / "small.png", cwd=tmp_path)
    assert code == 0
    code, stderr, peak = peak_memory("predict", "cnn.mnist", tmp_path / "huge.png", cwd=tmp_path)
    assert code == 0, stderr
    assert peak - baseline < 250, f"{peak - baseline} MB more than a small picture's"  # was 390


def test_a_first_loss_that_is_not_a_number_is_one_line(trained, tmp_path):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "huge-weights"
    shutil.copytree(trained[0], run)
    for path in [run / "best.safetensors", *run.glob("checkpoints/*/*.safetensors")]:
        tensors = load_file(path)
        huge = {
            k: torch.full_like(v, 3e38) if v.is_floating_point() else v for k, v in tensors.items()
        }
        save_file(huge, path)
    result = run_cli(
        "lr-find", "bn_cnn", "--set", f"dataset.path={trained[1]}", "--set", f"init={run}",
        "--set", "model.width=8", "--out", tmp_path / "lr.png", cwd=tmp_path, check=False,
    )  # fmt: skip
    one_line_error(result, "at the very first step", "not numbers")
    assert not (tmp_path / "lr.png").exists()
