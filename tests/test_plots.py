"""The pictures: round ticks, and curves/samples that show what they were given."""

from __future__ import annotations

import pytest
from PIL import Image

from zoo.runs import pictures as plots


@pytest.mark.parametrize(
    ("low", "high", "integer", "expected"),
    [
        (0.47, 1.13, False, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]),
        (0.8, 10.2, True, [2, 4, 6, 8, 10]),
        (0.95, 1.05, True, [1]),
        (54.9, 58.6, False, [55, 56, 57, 58]),
    ],
)
def test_ticks_are_round_and_inside(low, high, integer, expected):
    assert plots.ticks(low, high, integer=integer, target=7 if not integer else 6) == expected


def test_tick_labels_have_the_decimals_the_step_needs():
    assert [plots.tick_label(v, 0.25) for v in (0.5, 0.75)] == ["0.50", "0.75"]
    assert plots.tick_label(3.0, 1) == "3"
    assert plots.tick_label(2.5, 0.5) == "2.5"


def _count(image, color):
    rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    return sum(
        count
        for count, pixel in image.getcolors(maxcolors=1 << 24)
        if sum(abs(a - b) for a, b in zip(pixel, rgb, strict=True)) < 30
    )


def test_compare_draws_each_run_in_its_colour(tmp_path):
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_acc": 0.5 + e / 20}
        for e in range(1, 6)
    ]
    one = plots.curves(history, tmp_path / "one.png", title="runs/a")
    two = plots.compare({"a": history, "b": history[:2]}, tmp_path / "two.png")
    first, second = Image.open(one).convert("RGB"), Image.open(two).convert("RGB")
    assert first.size == second.size == (1000, 400)
    assert _count(first, plots.COLORS[0]) > 500
    assert _count(first, plots.COLORS[1]) == 0  # one run: one colour
    assert _count(second, plots.COLORS[1]) > 100
    assert not list(tmp_path.glob(".*"))  # written atomically: no temp file left


def test_samples_grid_shows_each_image_scaled_to_its_range(tmp_path):
    torch = pytest.importorskip("torch")
    dark = torch.zeros(784)
    dark[:392] = 0.2  # top half lighter than the bottom: drawn white over black
    path = plots.samples(
        [dark, dark.flip(0)], ["top", "bottom"], tmp_path / "grid.png", (1, 28, 28), columns=2
    )
    image = Image.open(path).convert("L")
    assert image.size == (192, 114)
    assert image.getpixel((48, 30)) > 200 and image.getpixel((48, 100)) < 50
    assert image.getpixel((144, 30)) < 50 and image.getpixel((144, 100)) > 200
