"""Tests for vsg.logger: metrics.jsonl, TensorBoard event files read back, GIF and PNG files."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from vsg.logger import Logger, video_grid


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_events(logdir) -> EventAccumulator:
    accumulator = EventAccumulator(str(logdir), size_guidance={"tensors": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def scalar_values(accumulator: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [
        (event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
        for event in accumulator.Tensors(tag)
    ]


def test_scalars_are_averaged_into_jsonl_and_tensorboard(tmp_path):
    logger = Logger(tmp_path)
    for value in (1.0, 2.0, 6.0):
        logger.scalar("model_loss", value)
    logger.scalar("train/return", np.float32(12.5))
    logger.scalar("train/return", 7)  # Two episodes in one interval: their mean is written.
    logger.write(100)
    logger.scalar("model_loss", 4.0)
    logger.write(200)
    logger.close()

    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [record["step"] for record in records] == [100, 200]
    assert records[0]["model_loss"] == pytest.approx(3.0)
    assert records[0]["train/return"] == pytest.approx(9.75)
    assert records[1]["model_loss"] == 4.0 and "train/return" not in records[1]
    assert all(record["fps"] > 0 for record in records)

    events = read_events(tmp_path)
    assert scalar_values(events, "scalars/model_loss") == [(100, 3.0), (200, 4.0)]
    assert scalar_values(events, "train/return") == [(100, 9.75)]  # Names with '/' kept as-is.
    assert [step for step, _ in scalar_values(events, "scalars/fps")] == [100, 200]


def test_non_finite_scalars_become_json_null(tmp_path):
    logger = Logger(tmp_path)
    logger.scalar("kl", float("nan"))
    logger.write(1)
    logger.close()
    assert read_jsonl(tmp_path / "metrics.jsonl")[0]["kl"] is None


def test_video_is_readable_from_tensorboard_and_saved_as_gif(tmp_path):
    rng = np.random.default_rng(0)
    sequences = rng.random((2, 6, 8, 10, 3))  # Floats in [0, 1], B=2 sequences.
    frames = video_grid(sequences)
    assert frames.shape == (6, 8, 20, 3)
    np.testing.assert_array_equal(frames[:, :, 10:], sequences[1])

    logger = Logger(tmp_path)
    logger.video("train_openl", frames)
    logger.image("gates", rng.integers(0, 256, (5, 7, 3), dtype=np.uint8))
    logger.write(50)
    logger.close()

    events = read_events(tmp_path)
    (summary,) = events.Images("videos/train_openl")
    assert summary.step == 50 and (summary.height, summary.width) == (8, 20)
    gif = Image.open(io.BytesIO(summary.encoded_image_string))
    assert gif.format == "GIF" and gif.n_frames == 6 and gif.size == (20, 8)
    on_disk = Image.open(tmp_path / "videos" / "train_openl.gif")
    assert on_disk.n_frames == 6 and on_disk.size == (20, 8)
    assert "images/gates" in events.Tags()["tensors"]
    assert Image.open(tmp_path / "images" / "gates.png").size == (7, 5)
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["train_openl.gif"]


def test_bad_video_shape_is_rejected(tmp_path):
    logger = Logger(tmp_path)
    with pytest.raises(ValueError, match="video_grid"):
        logger.video("batch", np.zeros((2, 3, 4, 4, 3), np.uint8))


def test_resume_appends_to_metrics(tmp_path):
    first = Logger(tmp_path)
    first.scalar("eval_return", 1.0)
    first.write(100)
    first.close()
    resumed = Logger(tmp_path, step=100)
    resumed.scalar("eval_return", 2.0)
    resumed.write(300)
    resumed.close()
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["eval_return"]) for r in records] == [(100, 1.0), (300, 2.0)]
    assert scalar_values(read_events(tmp_path), "scalars/eval_return") == [(100, 1.0), (300, 2.0)]


def test_nothing_new_means_no_write_and_no_fps_without_frames(tmp_path):
    logger = Logger(tmp_path, step=100)
    assert not logger.unwritten(100)  # resumed at 100 with nothing logged: no dummy row
    assert logger.unwritten(150)  # frames were collected since
    logger.scalar("eval/return", 3.0)
    assert logger.unwritten(100)
    assert logger.write(100) == {"eval/return": 3.0}  # same step as before: no fps
    assert not logger.unwritten(100)
    logger.scalar("loss", 1.0)
    assert logger.write(160)["fps"] > 0
    logger.close()
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [100, 160]


def test_resume_drops_records_logged_after_the_checkpoint(tmp_path):
    # A run logged steps 100-300, was checkpointed at 200 and then killed mid-write.
    lines = [json.dumps({"step": step, "eval_return": 1.0}) for step in (100, 200, 300)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 4')
    resumed = Logger(tmp_path, step=200)
    resumed.scalar("eval_return", 2.0)
    resumed.write(300)
    resumed.close()
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["eval_return"]) for r in records] == [(100, 1.0), (200, 1.0), (300, 2.0)]
