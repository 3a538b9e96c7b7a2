"""Trained weights as Python objects: a :class:`Trained` (the weights of a run directory, or of
a registered weights card: ``zoo.runs.weights``) rebuilt into its model, predictions on images,
and the :class:`Run` read back from its directory.

The model registry is passed in by the caller (``zoo.api``); nothing here loads plugins.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import files
from ..config import RunConfig
from ..errors import ConfigError, DataError, ZooError
from ..plugins.cards import MAX_INPUT
from ..plugins.registry import Registry
from . import checkpoints, fitting
from .run import Run
from .rundir import RunDir

WHICH = ("last", "best")  # a run's weights: its last complete checkpoint's, or its best epoch's


@dataclass
class Trained:
    """Trained weights and what rebuilds their model: ``model`` with ``options``, given
    ``num_classes`` and ``input_shape``; ``classes`` name the outputs; ``config`` is the run config
    that trained them (data for ``zoo eval``); ``label`` says which weights in messages."""

    label: str
    path: Path  # the safetensors file, verified
    model: str
    options: dict[str, Any]
    num_classes: int | None
    input_shape: tuple[int, ...] | None
    classes: list[str] | None
    config: RunConfig | None  # None: a card whose recipe zoo cannot read
    dataset: str | None = None  # the dataset they were trained on, by name

    @classmethod
    def from_run(cls, run_dir: str | Path, which: str = "last") -> Trained:
        """The ``last`` or ``best`` weights of a run directory."""
        folder = RunDir(run_dir)
        info, config = folder.model_info, folder.config
        shape = info.get("input_shape")
        return cls(
            label=f"{run_dir} ({which} weights)",
            path=folder.weights(which),
            model=info["model"],
            options=dict(info.get("options", {})),
            num_classes=info.get("num_classes"),
            input_shape=tuple(shape) if shape else None,
            classes=info.get("classes"),
            config=config,
            dataset=info.get("dataset") or config.dataset.name,
        )

    def check_input(self, datasets: Registry) -> None:
        """The input shape recorded for these weights, against what their dataset can honestly
        give (its registered ``input_shape``, or ``max_input_shape``): a shared run's model.json
        cannot make zoo resize every picture to 4096 x 4096 and run the model on it."""
        if not self.input_shape or not self.dataset or self.dataset not in datasets:
            return
        try:
            meta = datasets.get(self.dataset).meta
        except ZooError:  # registered by several plugins: nothing to compare with
            return
        exact, most = meta.get("input_shape"), meta.get("max_input_shape")
        shape = tuple(self.input_shape)
        if exact is not None and shape != tuple(exact):
            problem = f"gives {tuple(exact)}"
        elif most is not None and (
            len(shape) != len(most) or any(s > m for s, m in zip(shape, most, strict=False))
        ):
            problem = f"gives at most {tuple(most)}"
        else:
            return
        raise ZooError(
            f"{self.label} record the input {shape}, but dataset '{self.dataset}' {problem}: "
            "not weights zoo trained on it (nothing was resized or run)"
        )

    def build(self, models: Registry, device: str = "cpu") -> Any:
        """The model with these weights, in eval mode, ready for inference. The options are
        checked and the model is first built without memory (torch's meta device), so that
        options saying it is larger than its weights file (a shared run's model.json, a card)
        are refused before a byte is allocated."""
        entry = models.get(self.model)
        entry.check(self.options, where=f"{self.label}: model.")
        context = model_context(self.num_classes, self.input_shape)
        shapes = checkpoints.file_shapes(self.path, self.label)
        meta = skeleton(entry, context, self.options)
        if meta is not None:
            wanted = {k: tuple(v.shape) for k, v in meta.state_dict().items()}
            problems = fitting.fit_problems(shapes, {k: wanted[k] for k in shapes if k in wanted})
            held = size_of(meta)
            size = self.path.stat().st_size
            if problems:
                raise ZooError(f"{self.label} do not fit the model: {problems}")
            if held > 2 * size + (1 << 20):
                raise ZooError(
                    f"{self.label}: model '{self.model}' with these options holds {held:,} bytes, "
                    f"its weights file {size:,}: the options do not describe these weights"
                )
            needs = forward_bytes(meta, self.input_shape)
            if needs is not None and needs > MAX_FORWARD_BYTES:
                raise ZooError(
                    f"{self.label}: one input of {tuple(self.input_shape)} would take "
                    f"{needs / 1e9:,.1f} GB through model '{self.model}' (zoo runs at most "
                    f"{MAX_FORWARD_BYTES / 1e9:.1f} GB a sample): not an input it was trained on"
                )
        net = build_model(entry, context, self.options, what=self.label)
        checkpoints.load_weights(net, self.path, device, what=self.label)
        return net.to(device).eval()


def skeleton(entry: Any, context: dict[str, Any], options: dict[str, Any]) -> Any | None:
    """The model built on torch's meta device: its tensors' shapes and sizes, no memory spent.
    ``None`` where its factory cannot build there (it reads values, calls numpy...)."""
    import torch

    try:  # the random streams are put back: building the real model draws the same numbers
        with torch.random.fork_rng(devices=[]), torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return entry.create(context=context, **options)
    except Exception:  # not every factory can build without memory: then it is built for real
        return None


#: The most bytes one sample's forward pass may produce (every intermediate tensor counted, as
#: on torch's meta device): the catalog's models need under 2 MB at 28 x 28.
MAX_FORWARD_BYTES = 1 << 30


def forward_bytes(meta: Any, input_shape: Sequence[int] | None) -> int | None:
    """The bytes of every tensor one forward pass of one sample of ``input_shape`` makes in
    ``meta``, a model built on torch's meta device (nothing is allocated: shapes only);
    ``None`` when that cannot be measured (no shape, or a model the meta device cannot run)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            out = func(*args, **(kwargs or {}))
            for leaf in tree_leaves(out):
                if isinstance(leaf, torch.Tensor):
                    self.total += leaf.numel() * leaf.element_size()
            return out

    if not input_shape or meta is None:
        return None
    meta.eval()  # as predictions run it (a batch norm of one sample needs its running stats)
    try:
        with torch.no_grad(), warnings.catch_warnings(), Count() as count:
            warnings.simplefilter("ignore")
            meta(torch.empty(1, *input_shape, device="meta"))
    except Exception:  # a model that reads values (or calls numpy) cannot run on meta
        return None
    return count.total


def size_of(net: Any) -> int:
    """The bytes a model's parameters and buffers take."""
    return sum(t.numel() * t.element_size() for t in net.state_dict().values())


def measure(net: Any, input_shape: Sequence[int] | None) -> dict[str, int | None]:
    """``parameters`` (the count) and ``flops`` (of one forward pass of one sample, as
    ``torch.utils.flop_counter`` counts them: a multiply-accumulate is 2) of a model; ``flops``
    is ``None`` when the model cannot be counted so. In eval mode and without gradients: no
    statistic or random stream moves."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    parameters = sum(p.numel() for p in net.parameters())
    flops = None
    if input_shape:
        first = next(iter(net.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
        training = net.training
        net.eval()
        try:
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                net(torch.zeros(1, *input_shape, device=device))
            flops = int(counter.get_total_flops())
        except Exception:  # a model the counter cannot follow still trains
            flops = None
        finally:
            net.train(training)
    return {"parameters": parameters, "flops": flops}


def build_model(
    entry: Any, context: dict[str, Any], options: dict[str, Any], *, what: str, budget: int = 0
) -> Any:
    """Build a model: sized first without memory (``budget`` bytes at most, when given: options
    that make it larger are one line, not a machine out of memory), then for real, a failure of
    torch's (a size it cannot allocate) one line too."""
    if budget:
        meta = skeleton(entry, context, options)
        if meta is not None and size_of(meta) > budget:
            count = sum(t.numel() for t in meta.parameters())
            raise ConfigError(
                f"{what}: model '{entry.name}' with {_options_text(options)} has {count:,} "
                f"parameters ({size_of(meta) / 1e9:,.1f} GB): more than this machine can train "
                f"({budget / 1e9:,.1f} GB for the weights); choose smaller options"
            )
    try:
        return entry.create(context=context, **options)
    except (RuntimeError, OverflowError, MemoryError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(
            f"{what}: model '{entry.name}' could not be built with {_options_text(options)}: "
            f"{type(exc).__name__}: {reason}"
        ) from exc


def _options_text(options: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "its default options"
    return text if len(text) <= 200 else text[:197] + "..."


def open_run(run_dir: str | Path, models: Registry, which: str = "last") -> Run:
    """The run in ``run_dir``; its model (``last`` or ``best`` weights, in eval mode) is built
    when first asked for, so its status and history need no torch."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ZooError(f"{run_dir} is not a folder: name a run directory (zoo runs lists them)")
    if which not in WHICH:
        raise ConfigError(f"which weights: expected last or best, got {which!r}")
    return Run(path, build=lambda folder: load_model(folder, models, which))


def model_context(num_classes: int | None, input_shape: Any) -> dict[str, Any]:
    """What a model factory may take from the dataset: ``num_classes``, ``input_shape``."""
    context = {
        "num_classes": num_classes,
        "input_shape": tuple(input_shape) if input_shape else None,
    }
    return {k: v for k, v in context.items() if v is not None}


def load_model(
    run_dir: str | Path,
    models: Registry,
    which: str = "last",
    device: str = "cpu",
    expect: str | None = None,
) -> Any:
    """The run's model with its ``last`` (or ``best``) weights, in eval mode, ready for
    inference. ``expect``, when given, must name the model the run trained."""
    trained = Trained.from_run(run_dir, which)
    if expect is not None and models.get(expect) is not models.get(trained.model):
        raise ConfigError(f"{run_dir} trained model '{trained.model}', not '{expect}'")
    return trained.build(models, device)


#: The picture formats zoo predict reads (Pillow opens others too, some through external
#: programs: never for a file from outside).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "JPEG2000")
#: The names pictures in a folder have (``zoo predict WEIGHTS DIR/`` reads those, by name).
IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2",
)  # fmt: skip
#: The most pictures one prediction reads from folders.
MAX_IMAGES = 10_000
#: The most pixels a picture may have (4096 x 4096): a prediction needs 784 of them; a picture
#: larger than this is refused before it is decoded.
MAX_PIXELS = 1 << 24
#: How many pictures are decoded at once in this process (a 4096 x 4096 RGBA picture is 64 MB
#: decoded): a server answering 40 uploads at a time decodes two of them at a time.
DECODES = 2


def pictures_in(images: Sequence[Any]) -> list[Any]:
    """``images`` with each folder among them replaced by the pictures in it (by their names'
    endings, sorted; hidden files and other files left out, subfolders not entered); anything
    else (a file, a picture's ``(name, bytes)``) as it is."""
    found: list[Any] = []
    for image in images:
        if not isinstance(image, tuple) and Path(image).is_dir():
            image = Path(image)
            inside = sorted(
                p
                for p in image.iterdir()
                if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                and p.is_file()
            )  # fmt: skip
            if not inside:
                raise DataError(f"{image} holds no pictures ({', '.join(IMAGE_SUFFIXES)})")
            found += inside
        else:
            found.append(image)
        if len(found) > MAX_IMAGES:
            raise DataError(f"more than {MAX_IMAGES:,} pictures: give fewer at a time")
    return found


def read_image(path: str | Path | bytes, shape: Sequence[int], name: str | None = None) -> Any:
    """A picture (a file, or its bytes, named ``name`` in messages: PNG, JPEG..., any size up to
    :data:`MAX_PIXELS`, colour, grey, 16-bit or float, transparent or not) as the model's input
    of ``shape`` (channels, height, width): grey, resized, light on black as MNIST is (a
    transparent background is filled with the colour the ink is not, a light background
    inverted), in [0, 1], flattened like the dataset's rows. A picture of one colour only
    (nothing drawn) is refused: any answer would be a guess. It is decoded at no more than four
    times the model's size where the format allows (JPEG's draft), else reduced right after
    decoding, and at most :data:`DECODES` at a time, on zoo's own threads."""
    import torch
    from PIL import Image, UnidentifiedImageError

    label = name if name is not None else "(bytes)" if isinstance(path, bytes) else str(path)
    if len(shape) != 3 or shape[0] != 1:
        raise DataError(f"zoo predict reads grey images; this model takes input {tuple(shape)}")
    if math.prod(shape) > MAX_INPUT:
        raise DataError(f"this model takes inputs of {tuple(shape)}: more than zoo reads")
    wanted = (shape[-1] * 4, shape[-2] * 4)
    try:
        if isinstance(path, (bytes, bytearray, memoryview)):
            source: Any = io.BytesIO(path)
        else:
            files.regular(Path(path), f"image {label}")
            source = path
        # decoded by zoo's own few threads: at most that many pictures in memory at once, and
        # the memory a decode frees is reused by the next (a thread of its own for each of 40
        # requests would keep 40 decodes' worth)
        pixels = _decoder().submit(_decode, source, wanted, label).result()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"cannot read image {label}: it is too large ({exc})") from exc
    except DataError:
        raise
    except ZooError as exc:  # not a regular file
        raise DataError(str(exc)) from exc
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {label}: {exc}") from exc
    import numpy as np

    if float(pixels.max() - pixels.min()) < 1e-3:
        raise DataError(f"image {label} holds nothing to read (a single colour)")
    resized = Image.fromarray(pixels.astype(np.float32)).resize(
        (shape[-1], shape[-2]), Image.Resampling.LANCZOS
    )
    pixels = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    # The border is the background: light means dark ink on paper (a scan, a drawing), while
    # MNIST-style data is light on black. (The mean would misjudge a large light object.)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:
        pixels = 1 - pixels
    return torch.from_numpy(np.ascontiguousarray(pixels).reshape(1, -1))


_DECODER: Any = None
_DECODER_LOCK = threading.Lock()


def _decoder() -> Any:
    """The threads pictures are decoded on (:data:`DECODES` of them), made when first needed."""
    global _DECODER
    with _DECODER_LOCK:
        if _DECODER is None:
            from concurrent.futures import ThreadPoolExecutor

            _DECODER = ThreadPoolExecutor(DECODES, thread_name_prefix="zoo-decode")
        return _DECODER


def _decode(source: Any, size: tuple[int, int], label: str) -> Any:
    """A picture decoded (at no more than ``size`` where it was larger) to grey values."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # an error here
        with Image.open(source, formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    f"cannot read image {label}: it is too large ({width:,} x {height:,} "
                    f"pixels; zoo reads pictures of up to {MAX_PIXELS:,})"
                )
            if image.format == "JPEG":  # decoded at a fraction of its size where it can be
                image.draft("RGB", size)
            return _grey(_reduced(image, size))


def _reduced(image: Any, size: tuple[int, int]) -> Any:
    """A decoded picture no larger than ``size`` where it was larger (Pillow's ``reduce``, then
    a resize: the float copies made of it later stay small); its mode and transparency kept."""
    from PIL import Image

    image.load()
    if image.width <= size[0] and image.height <= size[1]:
        return image
    if image.mode == "P" or image.mode in ("1", "LA", "PA", "La"):  # resampled in full colour
        image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "L")
    try:
        factor = max(1, min(image.width // size[0], image.height // size[1]))
        smaller = image.reduce(factor) if factor > 1 else image
        scale = min(size[0] / smaller.width, size[1] / smaller.height, 1.0)
        target = (max(1, round(smaller.width * scale)), max(1, round(smaller.height * scale)))
        return smaller.resize(target, Image.Resampling.BOX) if scale < 1 else smaller
    except (ValueError, OSError):  # a mode Pillow cannot resample: read at its full size
        return image


def _grey(image: Any) -> Any:
    """A decoded picture as grey values in [0, 1] (float32, full size)."""
    import numpy as np

    mode = image.mode
    if mode == "F" or mode.startswith("I"):  # float or 16/32-bit pictures: their own range
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():
            raise DataError("cannot read image: it holds values that are not numbers")
        low, high = float(values.min()), float(values.max())
        if low >= 0 and high <= 1 and mode == "F":
            return values
        top = 65535.0 if mode.startswith("I;16") else 255.0 if high <= 255 else 65535.0
        if low >= 0 and high <= top:
            return values / np.float32(top)
        return (values - low) / np.float32(high - low or 1.0)  # stretched to [0, 1]
    transparent = "A" in image.getbands() or "transparency" in image.info
    if not transparent:
        return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255)
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / np.float32(255)
    grey = np.asarray(rgba.convert("L"), dtype=np.float32) / np.float32(255)
    # Ink on a transparent background (what an HTML canvas exports): the drawing is where the
    # picture is opaque. It is laid on the colour the ink is not, whatever colour the ink has.
    weight = float(alpha.sum())
    ink = float((grey * alpha).sum() / weight) if weight else 0.0
    background = 1.0 if ink < 0.5 else 0.0
    return grey * alpha + np.float32(background) * (1 - alpha)


def predict(
    trained: Trained,
    models: Registry,
    images: Sequence[str | Path | tuple[str, bytes]],
    top: int = 1,
    device: str = "cpu",
) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image (a picture file, a folder of them, or a picture's ``(name, bytes)``), the
    ``top`` most likely classes with their probabilities (computed on ``device``, whatever
    device the weights were trained on)."""
    import torch

    if not trained.input_shape:
        raise ZooError(f"{trained.label} record no input shape: zoo cannot size images")
    classes = trained.classes or [str(i) for i in range(trained.num_classes or 0)]
    net = trained.build(models, device)
    if isinstance(images, torch.Tensor):  # samples as the dataset gives them, one per row
        rows = images.reshape(len(images), -1).float()
        size = math.prod(trained.input_shape)
        if rows.shape[1] != size:
            raise DataError(f"samples of {rows.shape[1]} values, this model takes {size}")
        inputs = [(str(i), row[None]) for i, row in enumerate(rows)]
    else:
        inputs = [
            (str(image[0]), image[1]) if isinstance(image, tuple) else (str(image), image)
            for image in pictures_in(images)
        ]
    results = []
    with torch.inference_mode():
        for label, image in inputs:
            x = (
                image
                if isinstance(image, torch.Tensor)
                else read_image(image, trained.input_shape, name=label)
            )
            scores = net(x.to(device)).float()
            if not bool(torch.isfinite(scores).all()):
                raise ZooError(
                    f"{trained.label} answer {label} with values that are not numbers (NaN or "
                    "infinite): no prediction"
                )
            probs = torch.softmax(scores, dim=1)[0]
            values, indices = probs.topk(min(top, len(probs)))
            names = [classes[i] if i < len(classes) else str(i) for i in indices.tolist()]
            results.append((label, list(zip(names, values.tolist(), strict=True))))
    return results
