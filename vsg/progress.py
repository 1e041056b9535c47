"""What a training run shows on the console: a live progress line per phase, and log lines.

Phases, each with its own count: `prefill` (env frames of random actions / `prefill`),
`pretrain` (updates / `pretrain`) and `train` (env frames / `steps`, with fps, updates,
updates/s, the ETA and the latest train and eval returns). The bars are tqdm's, redrawn in
place at most once a second on a terminal. When stdout is not a terminal (a log file, `nohup`,
CI, Ray) the same line is printed as plain text every `plain_seconds` instead. tqdm's rate is a
moving average over recent refreshes of the current phase, so the ETA of the training phase
ignores the faster random prefill.
"""

import collections
import math
import sys
import time

from tqdm import tqdm

_TIMES = "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} " + _TIMES
PLAIN_FORMAT = "{desc} {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%) " + _TIMES
CONSOLE_SCALARS = ("train/return", "eval/return", "model/loss")


class _Lines:
    """A text stream for tqdm that turns its carriage-return redraws into plain lines."""

    def __init__(self, stream):
        self.stream = stream
        self.last = None

    def write(self, text):
        text = text.strip("\r\n ")
        if text and text != self.last:  # closing a bar redraws its last state
            self.stream.write(text + "\n")
            self.last = text

    def flush(self):
        self.stream.flush()


class _RecentRate:
    """Events per second over the last `window` seconds."""

    def __init__(self, window=60.0):
        self.window = window
        self.samples = collections.deque()

    def __call__(self, count, now):
        self.samples.append((now, count))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window:
            self.samples.popleft()
        first_time, first_count = self.samples[0]
        elapsed = now - first_time
        return (count - first_count) / elapsed if elapsed > 0 else math.nan


class Progress:
    """The console of a run: `phase(...)` starts a bar, `advance(n)` moves it.

    Args:
        stream: where to write (stdout by default).
        interactive: redraw in place (True) or print plain lines (False); by default, whether
            `stream` is a terminal.
        plain_seconds: at most one plain line per this many seconds.
    """

    def __init__(self, stream=None, interactive=None, plain_seconds=30.0):
        self.stream = stream if stream is not None else sys.stdout
        if interactive is None:
            interactive = self.stream.isatty()
        self.interactive = interactive
        self.plain_seconds = plain_seconds
        self.name = None
        self._bar = None
        self._values = {}
        self._updates = None
        self._update_rate = _RecentRate()

    def phase(self, name, total, initial=0, unit="frames"):
        """Closes the current bar and starts `name` at `initial` of `total` `unit`."""
        self.close()
        self.name = name
        options = dict(desc=name, total=total, initial=initial, unit=unit, smoothing=0.05)
        if self.interactive:
            options.update(file=self.stream, bar_format=BAR_FORMAT, mininterval=1.0)
            options.update(dynamic_ncols=True)
        else:
            options.update(file=_Lines(self.stream), bar_format=PLAIN_FORMAT)
            options.update(mininterval=self.plain_seconds, maxinterval=self.plain_seconds)
        self._bar = tqdm(**options)
        if self._values:
            self._bar.set_postfix_str(", ".join(self._values.values()), refresh=False)

    def advance(self, n):
        """Moves the bar to the absolute count `n` (redrawn when its interval has passed)."""
        bar = self._bar
        if bar.total is not None and n > bar.total:
            bar.total = n  # e.g. prefill runs on to the end of its last episode
        bar.update(n - bar.n)

    def note(self, updates=None, train_return=None, eval_return=None):
        """Sets what the training bar shows after the rate: the update count (with updates/s
        over the last minute) and the latest train and eval episode returns."""
        if updates is not None:
            rate = self._update_rate(updates, time.monotonic())
            per_second = f" ({rate:.3g}/s)" if math.isfinite(rate) else ""
            self._values["updates"] = f"{updates} updates{per_second}"
        if train_return is not None:
            self._values["return"] = f"return {train_return:.4g}"
        if eval_return is not None:
            self._values["eval"] = f"eval return {eval_return:.4g}"
        if self._bar is not None:
            self._bar.set_postfix_str(", ".join(self._values.values()), refresh=False)

    def write(self, line):
        """Prints a line above the live bar (or between plain lines)."""
        if self._bar is not None and self.interactive:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def logged(self, step, means):
        """One line for a metrics write at env frame `step` (`means` as `Logger.write` returns)."""
        parts = [f"[{step} frames]"] + ([f"fps {means['fps']:.1f}"] if "fps" in means else [])
        parts += [f"{name} {means[name]:.4g}" for name in CONSOLE_SCALARS if name in means]
        self.write(" / ".join(parts))

    def close(self):
        """Closes the current bar, leaving its last state on screen."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.name = None
