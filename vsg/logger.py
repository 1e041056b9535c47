"""Metrics to `metrics.jsonl` and TensorBoard, plus GIF and PNG files (the console is
`vsg.progress`'s).

Logged values are buffered and go out together at `Logger.write(step)`, with `step` counted in
environment frames; `Logger.write_at(step, ...)` writes results that took time to collect (an
evaluation started at `step`) as a record of their own, at the frame they belong to.
TensorBoard tags are `<group>/<name>` where the group is `scalars`, `videos` or `images`; a
name that already contains '/' is used as the tag unchanged, so callers can choose their own
hierarchy (`train/return`, `loss/kl`, ...): the frame rate `fps` is `scalars/fps` in
TensorBoard, and videos and images are both in its Images tab. Files:

    <logdir>/metrics.jsonl          one JSON object per write: {"step": step, name: mean, ...}
    <logdir>/events.out.tfevents.*  TensorBoard scalars, GIF videos, PNG images
    <logdir>/videos/<name>.gif      latest video per name ('/' in names becomes '_')
    <logdir>/images/<name>.png      latest image per name
"""

import io
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vsg.replay import atomic_write_bytes
from vsg.rundir import drop_metrics_after

VIDEO_FPS = 20


def video_grid(frames: np.ndarray) -> np.ndarray:
    """Tile B sequences side by side: [B, T, H, W, C] -> [T, H, B * W, C]."""
    batch, steps, height, width, channels = frames.shape
    return frames.transpose(1, 2, 0, 3, 4).reshape(steps, height, batch * width, channels)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 pass through; floats are taken to lie in [0, 1] and are clipped to it."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def _pil_image(frame: np.ndarray) -> Image.Image:
    """A uint8 frame [H, W, C] with C in {1, 3, 4} as a Pillow image."""
    return Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)


def encode_gif(frames: np.ndarray, fps: int = VIDEO_FPS) -> bytes:
    """Animated, looping GIF bytes of uint8 frames [T, H, W, C]."""
    images = [_pil_image(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
    )
    return buffer.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image [H, W, C]."""
    buffer = io.BytesIO()
    _pil_image(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _json_safe(value: float) -> float | None:
    # NaN and infinity are not valid JSON; null reads back as NaN in pandas.
    return value if math.isfinite(value) else None


class Logger:
    """Buffers scalars, videos and images and writes them at `write(step)`.

    Args:
        logdir: run directory; created if missing. `metrics.jsonl` is appended to, so a
            resumed run continues the same file (after dropping records past `step`, which
            a run killed after its last checkpoint had written).
        step: the environment frame the run starts (or resumes) at, for fps.
        tensorboard: also write TensorBoard event files (TensorFlow is imported at the first
            write); without, only metrics.jsonl and the media files.
    """

    def __init__(self, logdir: str | os.PathLike, step: int = 0, tensorboard: bool = True):
        self._logdir = Path(logdir)
        self._logdir.mkdir(parents=True, exist_ok=True)
        drop_metrics_after(self._logdir, step)
        self._last = (int(step), time.monotonic())
        self._scalars: dict[str, list[float]] = {}
        self._videos: dict[str, np.ndarray] = {}
        self._images: dict[str, np.ndarray] = {}
        self._tensorboard = tensorboard
        self._writer = None  # Created at the first write, so tests and tools can skip TF I/O.

    @property
    def logdir(self) -> Path:
        return self._logdir

    def scalar(self, name: str, value: float) -> None:
        """Accumulate a scalar; the mean of all values since the last write is written."""
        self._scalars.setdefault(name, []).append(float(value))

    def video(self, name: str, frames: np.ndarray) -> None:
        """Queue a video [T, H, W, C] (uint8, or float in [0, 1]); the latest per name wins."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"Video {name!r} must be [T, H, W, C] with C in 1, 3, 4, got {frames.shape}; "
                "tile batches with video_grid()."
            )
        self._videos[name] = _to_uint8(frames)

    def image(self, name: str, array: np.ndarray) -> None:
        """Queue an image [H, W, C] (uint8, or float in [0, 1]); the latest per name wins."""
        array = np.asarray(array)
        if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
            raise ValueError(f"Image {name!r} must be [H, W, C], got {array.shape}.")
        self._images[name] = _to_uint8(array)

    def unwritten(self, step: int) -> bool:
        """True if a write at `step` would record anything new: values were logged since the
        last write, or the run moved past the step of the last write."""
        return step > self._last[0] or bool(self._scalars or self._videos or self._images)

    def write(self, step: int) -> dict[str, float]:
        """Write everything buffered at `step` (environment frames); returns the scalar means.

        Adds `fps`, environment frames per second since the previous write, if `step` is past
        the previous write's.
        """
        step = int(step)
        now = time.monotonic()
        means = {name: float(np.mean(values)) for name, values in self._scalars.items()}
        if step > self._last[0]:
            means["fps"] = (step - self._last[0]) / max(now - self._last[1], 1e-9)
        self._last = (step, now)
        self._emit(step, means, self._videos, self._images)
        self._scalars, self._videos, self._images = {}, {}, {}
        return means

    def write_at(
        self, step: int, scalars: dict[str, list[float]], videos: dict[str, np.ndarray]
    ) -> dict[str, float]:
        """Write one record at env frame `step` now, apart from the buffered values: the mean
        of each list in `scalars` and the videos [T, H, W, C]. Returns the means.

        For results that belong to an earlier frame than the current one (an evaluation
        started at `step`), so metrics.jsonl then holds a record out of step order.
        """
        means = {name: float(np.mean(values)) for name, values in scalars.items()}
        self._emit(int(step), means, {name: _to_uint8(v) for name, v in videos.items()}, {})
        return means

    def _emit(self, step, means, videos, images) -> None:
        record = {"step": step, **{name: _json_safe(value) for name, value in means.items()}}
        with open(self._logdir / "metrics.jsonl", "a") as file:
            file.write(json.dumps(record) + "\n")
        gifs = {name: encode_gif(frames) for name, frames in videos.items()}
        if self._tensorboard:
            self._write_tensorboard(step, means, videos, gifs, images)
        for name, gif in gifs.items():
            atomic_write_bytes(self._media_path("videos", name, ".gif"), gif)
        for name, array in images.items():
            atomic_write_bytes(self._media_path("images", name, ".png"), encode_png(array))

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _write_tensorboard(self, step, means, videos, gifs, images) -> None:
        import tensorflow as tf  # only here, so the rest of the logger works without it

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self._logdir))
        with self._writer.as_default():
            for name, value in means.items():
                tf.summary.scalar(_tag("scalars", name), value, step=step)
            for name, gif in gifs.items():
                summary = _gif_summary(_tag("videos", name), videos[name].shape, gif)
                tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)
            for name, array in images.items():
                tf.summary.image(_tag("images", name), array[None], step=step)
        self._writer.flush()

    def _media_path(self, folder: str, name: str, suffix: str) -> Path:
        return self._logdir / folder / (name.replace("/", "_") + suffix)


def _tag(group: str, name: str) -> str:
    return name if "/" in name else f"{group}/{name}"


def _gif_summary(tag: str, shape: tuple[int, ...], gif: bytes):
    """A legacy image summary (`tf.compat.v1.Summary`) holding an animated GIF of `shape`
    [T, H, W, C].

    tf.summary.image only encodes PNG, so the GIF goes in as an encoded image string, which
    TensorBoard's image tab plays.
    """
    import tensorflow as tf

    _, height, width, channels = shape
    image = tf.compat.v1.Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=gif
    )
    return tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag=tag, image=image)])
