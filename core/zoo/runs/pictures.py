"""Pictures of runs and data, drawn with Pillow: a run's loss and accuracy curves, several runs
compared, and a grid of labelled samples.

Pillow rather than matplotlib: a run redraws its curves.png after every epoch, in its own process,
and Pillow does that in a few tens of milliseconds, where importing matplotlib alone took more
than a second of the CPU that training needed (see benchmarks/speed.py). Everything is drawn at
``SCALE`` times the size and scaled down, which smooths lines and text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import files

COLORS = (  # matplotlib's tab10, so that runs keep the colours people know
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
INK = "#262626"
GRID = "#e8e8e8"
SCALE = 2


def ticks(low: float, high: float, *, integer: bool = False, target: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def tick_label(value: float, step: float) -> str:
    """``value`` with as many decimals as ``step`` needs (0.25 -> 2, 0.5 -> 1, 2 -> 0)."""
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    return f"{value:.{decimals}f}"


def _limits(values: Iterable[float]) -> tuple[float, float]:
    """The data range with a 5% margin each side (a flat line gets a band around it)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-12:
        pad = abs(low) * 0.05 or 0.5
        return low - pad, high + pad
    margin = (high - low) * 0.05
    return low - margin, high + margin


class _Figure:
    """A white canvas in logical pixels; drawn at SCALE times the size."""

    def __init__(self, width: int, height: int) -> None:
        from PIL import Image, ImageDraw, ImageFont

        self.size = (width, height)
        self.image = Image.new("RGB", (width * SCALE, height * SCALE), "white")
        self.draw = ImageDraw.Draw(self.image)
        self._fonts: dict[int, Any] = {}
        self._font_factory = ImageFont.load_default

    def font(self, size: int) -> Any:
        if size not in self._fonts:
            self._fonts[size] = self._font_factory(size=size * SCALE)
        return self._fonts[size]

    def text(self, xy, text: str, size: int = 11, anchor: str = "la", fill: str = INK) -> None:
        x, y = xy
        self.draw.text((x * SCALE, y * SCALE), text, font=self.font(size), fill=fill, anchor=anchor)

    def text_width(self, text: str, size: int = 11) -> float:
        return self.draw.textlength(text, font=self.font(size)) / SCALE

    def vertical_text(self, center, text: str, size: int = 11) -> None:
        """Text turned 90 degrees (a y-axis label), centred on ``center``."""
        from PIL import Image, ImageDraw

        font = self.font(size)
        left, top, right, bottom = font.getbbox(text)
        label = Image.new("L", (right - left + 2, bottom - top + 2), 0)
        ImageDraw.Draw(label).text((-left + 1, -top + 1), text, font=font, fill=255)
        label = label.rotate(90, expand=True)
        x = round(center[0] * SCALE) - label.width // 2
        y = round(center[1] * SCALE) - label.height // 2
        self.image.paste(INK, (x, y, x + label.width, y + label.height), label)

    def line(self, points, color: str, width: float = 1.5, dashed: bool = False) -> None:
        points = [(x * SCALE, y * SCALE) for x, y in points]
        if len(points) < 2:
            return
        pieces = _dashes(points, 6 * SCALE, 3.5 * SCALE) if dashed else [points]
        for piece in pieces:
            if len(piece) > 1:
                self.draw.line(piece, fill=color, width=round(width * SCALE), joint="curve")

    def dot(self, xy, color: str, radius: float = 2.5) -> None:
        x, y, r = xy[0] * SCALE, xy[1] * SCALE, radius * SCALE
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=color)

    def rectangle(self, box, outline: str | None = INK, fill: str | None = None) -> None:
        self.draw.rectangle(
            [v * SCALE for v in box], outline=outline, fill=fill, width=max(1, SCALE // 2)
        )

    def save(self, path: Path) -> Path:
        image = self.image.reduce(SCALE)  # the mean of each SCALE x SCALE block
        with files.atomic(path) as tmp:
            image.save(tmp, format="PNG")
        return path


def _dashes(points, on: float, off: float) -> list[list[tuple[float, float]]]:
    """A polyline cut into dashes ``on`` long with gaps ``off`` long."""
    pieces: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = [points[0]]
    drawing, left = True, on
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while length - done > left:
            done += left
            point = (x0 + (x1 - x0) * done / length, y0 + (y1 - y0) * done / length)
            if drawing:
                current.append(point)
                pieces.append(current)
            current = [point]
            drawing, left = not drawing, off if drawing else on
        left -= length - done
        if drawing:
            current.append((x1, y1))
    if drawing:
        pieces.append(current)
    return pieces


class _Axes:
    """One panel: data limits, ticks, grid, lines and a legend inside ``box`` (logical px)."""

    def __init__(self, figure: _Figure, box: tuple[float, float, float, float]) -> None:
        self.figure = figure
        self.box = box
        self.series: list[dict[str, Any]] = []

    def plot(self, xs, ys, color: str, label: str, dashed: bool = False, dots: bool = False):
        pairs = [
            (x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(x) and math.isfinite(y)
        ]
        self.series.append(
            {"points": pairs, "color": color, "label": label, "dashed": dashed, "dots": dots}
        )

    def finish(self, title: str, xlabel: str, ylabel: str, xtick: Any = None) -> None:
        """Draw the panel; ``xtick(x)`` labels the x ticks (default: the numbers)."""
        fig, (left, top, right, bottom) = self.figure, self.box
        xs = [x for s in self.series for x, _ in s["points"]]
        ys = [y for s in self.series for _, y in s["points"]]
        xlim, ylim = _limits(xs), _limits(ys)

        def at(x: float, y: float) -> tuple[float, float]:
            return (
                left + (x - xlim[0]) / (xlim[1] - xlim[0]) * (right - left),
                bottom - (y - ylim[0]) / (ylim[1] - ylim[0]) * (bottom - top),
            )

        xticks = ticks(*xlim, integer=True)
        yticks = ticks(*ylim, target=8)
        ystep = yticks[1] - yticks[0] if len(yticks) > 1 else 1.0
        for x in xticks:
            px = at(x, 0)[0]
            fig.line([(px, top), (px, bottom)], GRID, width=0.8)
            fig.line([(px, bottom), (px, bottom + 4)], INK, width=0.8)
            label = xtick(x) if xtick is not None else tick_label(x, 1)
            fig.text((px, bottom + 6), label, anchor="ma")
        for y in yticks:
            py = at(0, y)[1]
            fig.line([(left, py), (right, py)], GRID, width=0.8)
            fig.line([(left - 4, py), (left, py)], INK, width=0.8)
            fig.text((left - 6, py), tick_label(y, ystep), anchor="rm")
        for s in self.series:
            points = [at(x, y) for x, y in s["points"]]
            fig.line(points, s["color"], dashed=s["dashed"])
            if s["dots"] or len(points) == 1:
                for point in points:
                    fig.dot(point, s["color"])
        fig.rectangle(self.box)
        fig.text(((left + right) / 2, top - 8), title, size=13, anchor="md")
        fig.text(((left + right) / 2, bottom + 22), xlabel, anchor="ma")
        widest = max((fig.text_width(tick_label(y, ystep)) for y in yticks), default=0)
        fig.vertical_text((left - widest - 18, (top + bottom) / 2), ylabel)
        self._legend([p for s in self.series for p in _along([at(x, y) for x, y in s["points"]])])

    def _legend(self, points: list[tuple[float, float]]) -> None:
        """Entries in the corner that hides the fewest data points."""
        fig, (left, top, right, bottom) = self.figure, self.box
        labels = [s["label"] for s in self.series]
        if not labels:
            return
        width = max(fig.text_width(label, 10) for label in labels) + 44
        height = 17 * len(labels) + 8
        middle_x, middle_y = (left + right - width) / 2, (top + bottom - height) / 2
        corners = [
            (right - 8 - width, top + 8),
            (left + 8, top + 8),
            (right - 8 - width, bottom - 8 - height),
            (left + 8, bottom - 8 - height),
            (middle_x, top + 8),
            (middle_x, bottom - 8 - height),
            (right - 8 - width, middle_y),
            (left + 8, middle_y),
        ]

        def hidden(corner: tuple[float, float]) -> int:
            x, y = corner
            return sum(
                x - 6 <= px <= x + width + 6 and y - 6 <= py <= y + height + 6 for px, py in points
            )

        x, y = min(corners, key=hidden)
        fig.rectangle((x, y, x + width, y + height), outline="#cccccc", fill="white")
        for i, s in enumerate(self.series):
            row = y + 12 + 17 * i
            fig.line([(x + 8, row), (x + 32, row)], s["color"], dashed=s["dashed"])
            if s["dots"]:
                fig.dot((x + 20, row), s["color"])
            fig.text((x + 38, row), s["label"], size=10, anchor="lm")


def _along(points: list[tuple[float, float]], every: float = 4.0) -> list[tuple[float, float]]:
    """Points every few pixels along a polyline (what a legend must not hide)."""
    out = list(points[:1])
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / every))
        out += [
            (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)
        ]
    return out


def curves(history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """train and val loss, and val accuracy, per epoch."""
    return compare({title: history}, path)


def compare(histories: dict[str, Sequence[dict[str, Any]]], path: Path) -> Path:
    """Each run's train loss (dashed) and val loss (solid) on the left, val accuracy right."""
    titled = len(histories) == 1 and bool(next(iter(histories)))
    figure = _Figure(1000, 400)
    top = 52 if titled else 36
    loss = _Axes(figure, (78, top, 480, 345))
    acc = _Axes(figure, (588, top, 990, 345))
    several = len(histories) > 1
    for index, (label, history) in enumerate(histories.items()):
        color = COLORS[index % len(COLORS)]
        epochs = [row["epoch"] for row in history]
        train = [row["train_loss"] for row in history]
        val = [row["val_loss"] for row in history]
        loss.plot(epochs, train, color, f"{label} train" if several else "train", dashed=True)
        loss.plot(epochs, val, color, f"{label} val" if several else "val", dots=True)
        accuracy = [100 * row["val_acc"] for row in history]
        acc.plot(epochs, accuracy, color, label or "val", dots=True)
    loss.finish("loss", "epoch", "cross-entropy loss")
    acc.finish("validation accuracy", "epoch", "accuracy (%)")
    if titled:
        figure.text((500, 8), next(iter(histories)), size=10, anchor="ma")
    return figure.save(path)


def samples(
    images: Sequence[Any],
    labels: Sequence[str],
    path: Path,
    shape: Sequence[int],
    columns: int = 8,
) -> Path:
    """A grid of images (flat rows, as the tutorial's ``imshow`` takes them, of ``shape``:
    channels, height, width; 1 or 3 channels), each scaled from its own darkest to its lightest
    pixel, with their labels above them."""
    from PIL import Image

    channels, height, width = (1, *shape) if len(shape) == 2 else tuple(shape)
    if channels not in (1, 3):
        raise ValueError(f"cannot draw images of shape {tuple(shape)}: 1 or 3 channels")
    mode = "L" if channels == 1 else "RGB"
    cell, caption = 96, 18
    zoom = max(1, (cell - 12) // max(height, width))
    rows = (len(images) + columns - 1) // columns
    figure = _Figure(columns * cell, rows * (cell + caption))
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        values = [float(v) for v in image.reshape(channels, height * width).T.reshape(-1).tolist()]
        low, high = min(values), max(values)
        scale = 255 / (high - low) if high > low else 0.0
        pixels = bytes(round((v - low) * scale) for v in values)
        tile = Image.frombytes(mode, (width, height), pixels)
        tile = tile.resize((width * zoom * SCALE, height * zoom * SCALE), Image.Resampling.NEAREST)
        x, y = (i % columns) * cell, (i // columns) * (cell + caption)
        left, top = x + (cell - width * zoom) // 2, y + caption
        figure.image.paste(tile.convert("RGB"), (left * SCALE, top * SCALE))
        figure.text((x + cell / 2, y + caption - 3), label, size=10, anchor="md")
    return figure.save(path)


def confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str] | None, path: Path) -> Path:
    """A confusion matrix: rows the true classes, columns the predicted ones, each cell's count
    written on a blue as dark as the share of its row it holds."""
    n = len(matrix)
    names = [str(c) for c in classes] if classes and len(classes) == n else list(map(str, range(n)))
    cell = max(22, min(48, 560 // max(n, 1)))
    probe = _Figure(10, 10)
    label_width = max(probe.text_width(name, 10) for name in names) + 12 if names else 20
    left, top = 30 + label_width, 40
    width, height = int(left + n * cell + 20), int(top + n * cell + label_width + 30)
    figure = _Figure(width, height)
    figure.text((left + n * cell / 2, 12), "predicted class", size=12, anchor="ma")
    figure.vertical_text((10, top + n * cell / 2), "true class", size=12)
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            shade = round(255 - 200 * share)
            color = f"#{shade:02x}{shade + (255 - shade) // 3:02x}ff"
            box = (left + j * cell, top + i * cell, left + (j + 1) * cell, top + (i + 1) * cell)
            figure.rectangle(box, outline=GRID, fill=color)
            ink = "white" if share > 0.6 else INK
            figure.text((box[0] + cell / 2, box[1] + cell / 2), str(count), 9, "mm", ink)
        figure.text((left - 6, top + i * cell + cell / 2), names[i], size=10, anchor="rm")
    for j, name in enumerate(names):
        x = left + j * cell + cell / 2
        figure.vertical_text((x, top + n * cell + 8 + figure.text_width(name, 10) / 2), name, 10)
    return figure.save(path)


def lr_find(
    lrs: Sequence[float], losses: Sequence[float], suggestion: float | None, path: Path
) -> Path:
    """The learning-rate range test: the smoothed loss against the rate (a log scale), the
    suggested rate marked."""
    figure = _Figure(640, 420)
    axes = _Axes(figure, (80, 40, 610, 360))
    xs = [math.log10(lr) for lr in lrs]
    axes.plot(xs, list(losses), COLORS[0], "smoothed training loss")
    if suggestion is not None:
        at = min(range(len(lrs)), key=lambda i: abs(math.log10(lrs[i] / suggestion)))
        axes.plot([xs[at]], [losses[at]], COLORS[1], f"suggested {suggestion:.2g}", dots=True)
    title = "learning-rate range test"
    axes.finish(title, "learning rate", "loss", xtick=lambda x: f"1e{round(x)}")
    return figure.save(path)
