"""vsg.progress: plain lines off a terminal, redrawn bars on one, phase counts and the ETA."""

import io
import time

from vsg.progress import Progress


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, plain_seconds=0.05)
    assert not progress.interactive  # StringIO is not a terminal
    progress.phase("prefill", 100)
    for frames in range(0, 121, 10):
        progress.advance(frames)
        time.sleep(0.01)
    progress.write("prefill done: 120 env frames (60 decisions)")
    progress.phase("train", 1000, initial=120)
    for frames in range(120, 1001, 20):
        progress.advance(frames)
        progress.note(updates=frames // 10, train_return=frames / 4, eval_return=7.0)
        time.sleep(0.01)
    progress.logged(1000, {"fps": 30.0, "train/return": 250.0, "model/loss": 1.5})
    progress.close()
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "prefill 0/100 frames (0%) [00:00<?, ?frames/s]"
    prefill = [line for line in lines if line.startswith("prefill ")]
    assert prefill[-1].startswith("prefill 120/120 frames (100%)")  # runs on to the episode end
    assert len(lines) == len(set(lines))  # closing a bar does not repeat its last line
    train = [line for line in lines if line.startswith("train ")]
    assert len(train) >= 3 and train[0].startswith("train 120/1000 frames (12%)")
    assert train[-1].startswith("train 1000/1000 frames (100%)")
    assert "100 updates" in train[-1] and "return 250" in train[-1] and "eval return 7" in train[-1]
    middle = train[len(train) // 2]
    assert "<" in middle and "<?" not in middle  # an ETA once frames move
    assert "[1000 frames] / fps 30.0 / train/return 250 / model/loss 1.5" in lines


def test_plain_lines_are_rate_limited():
    stream = io.StringIO()
    progress = Progress(stream, plain_seconds=3600)
    progress.phase("train", 10_000)
    for frames in range(10_000):
        progress.advance(frames)
    progress.close()
    # The line at the start and the final state only.
    assert len(stream.getvalue().splitlines()) == 2


def test_bar_redraws_in_place_on_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, interactive=True)
    progress.phase("pretrain", 5, unit="updates")
    progress.write("a line above the bar")
    for update in range(1, 6):
        progress.advance(update)
    progress.close()
    text = stream.getvalue()
    assert "\r" in text and "a line above the bar\n" in text
    assert "pretrain 100%" in text and "5/5 updates" in text
