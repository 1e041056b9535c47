"""Episode storage on disk and fixed-length sequence sampling from RAM (NumPy only).

An episode is a dict of arrays that share a leading length L + 1 (the reset frame plus L
transitions). Index alignment, for an episode of L transitions:

    index      0          1         ...   L
    image      o_0        o_1       ...   o_L          uint8 [L+1, H, W, C]
    action     0          a_0       ...   a_{L-1}      float32 [L+1, A], action that led to o_t
    reward     0          r_1       ...   r_L          float32 [L+1], reward received with o_t
    is_first   True       False     ...   False        bool [L+1]
    is_last    False      False     ...   True         bool [L+1]
    is_terminal False     False     ...   True/False   bool [L+1] (False on a time limit)

Extra keys (for example `log_*` diagnostics) are stored and sampled like the others.

Each finished episode is one compressed `.npz` file named `<YYYYmmddTHHMMSS>-<uuid hex>-<L>.npz`,
so steps can be counted from file names alone. An episode still running when the process is
killed is never written and is lost; resuming continues with the episodes on disk.
"""

import datetime
import io
import os
import re
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

_NAME_PATTERN = re.compile(r"^(\d{8}T\d{6})-([0-9a-f]{32})-(\d+)\.npz$")
# Errors that a truncated or otherwise damaged `.npz` raises while being read.
_CORRUPT_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)

Episode = dict[str, np.ndarray]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the complete new one.

    The bytes go to a hidden temporary file in the same directory (same file system, so the
    final `os.replace` is atomic); the temporary file is removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # os.open with mode 0o666 honours the umask (tempfile.mkstemp would force 0o600).
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def episode_length(episode: Mapping[str, np.ndarray]) -> int:
    """Number of transitions L of an episode whose arrays all have leading length L + 1."""
    lengths = {key: len(value) for key, value in episode.items()}
    if not lengths or len(set(lengths.values())) != 1:
        raise ValueError(f"Episode arrays must share one leading length, got {lengths}.")
    entries = next(iter(lengths.values()))
    if entries < 1:
        raise ValueError("An episode needs at least the reset frame.")
    return entries - 1


def save_episode(directory: str | os.PathLike, episode: Mapping[str, np.ndarray]) -> Path:
    """Save an episode as a compressed `.npz`, atomically; returns the file's path.

    The name is `<YYYYmmddTHHMMSS>-<uuid hex>-<L>.npz` with L the number of transitions.
    """
    length = episode_length(episode)
    timestamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = Path(directory) / f"{timestamp}-{uuid.uuid4().hex}-{length}.npz"
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **episode)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _episode_files(directory: Path) -> list[tuple[Path, int]]:
    """Episode files with the length from their names, oldest first.

    Files are ordered by the timestamp in their names, then by modification time (the name has
    one-second resolution). Temporary files do not end in `.npz` and are never listed.
    """
    if not directory.is_dir():
        return []
    entries = []
    for path in directory.glob("*.npz"):
        match = _NAME_PATTERN.match(path.name)
        if match is None:
            warnings.warn(f"Ignoring {path}: not an episode file name.", stacklevel=3)
            continue
        key = (match.group(1), path.stat().st_mtime_ns, path.name)
        entries.append((key, path, int(match.group(3))))
    entries.sort(key=lambda entry: entry[0])
    return [(path, length) for _, path, length in entries]


def count_episodes(directory: str | os.PathLike) -> tuple[int, int]:
    """(episodes, transitions) stored in `directory`, from the file names only."""
    files = _episode_files(Path(directory))
    return len(files), sum(length for _, length in files)


def _read_episode(path: Path, expected_length: int) -> Episode | None:
    """Read one episode file; warn and return None if it is damaged or its length is wrong."""
    try:
        with np.load(path, allow_pickle=False) as data:
            episode = {key: data[key] for key in data.files}
        length = episode_length(episode)
    except _CORRUPT_ERRORS as error:
        warnings.warn(f"Skipping corrupt episode file {path}: {error!r}", stacklevel=3)
        return None
    if length != expected_length:
        warnings.warn(
            f"Skipping episode file {path}: holds {length} transitions, name says "
            f"{expected_length}.",
            stacklevel=3,
        )
        return None
    return episode


def _load_newest(files: list[tuple[Path, int]], capacity_steps: int) -> dict[str, Episode]:
    """Read the newest of `files` (oldest first, as listed) that fit into `capacity_steps`."""
    loaded: list[tuple[str, Episode]] = []
    steps = 0
    for path, length in reversed(files):
        if capacity_steps and loaded and steps + length > capacity_steps:
            break
        episode = _read_episode(path, length)
        if episode is not None:
            loaded.append((path.stem, episode))
            steps += length
    return dict(reversed(loaded))


def load_episodes(directory: str | os.PathLike, capacity_steps: int = 0) -> dict[str, Episode]:
    """Load the newest episodes of `directory` that fit into `capacity_steps` transitions.

    Files are taken newest first and loading stops at the first one that would exceed the
    capacity (the newest is always taken), so the result is what a replay holding every
    episode and evicting the oldest would keep. `capacity_steps` 0 means unlimited. Damaged
    files are skipped with a warning and left on disk for inspection.

    Returns: file stem -> episode, oldest first.
    """
    return _load_newest(_episode_files(Path(directory)), capacity_steps)


def _storage_dtypes(episode: Mapping[str, np.ndarray]) -> Episode:
    """The episode with float32 action and reward and no float64 arrays (others unchanged)."""
    stored = {}
    for key, value in episode.items():
        value = np.asarray(value)
        # Float64 would double RAM for no benefit; the models compute in float32 or lower.
        if value.dtype == np.float64 or key in ("action", "reward"):
            value = value.astype(np.float32, copy=False)
        stored[key] = value
    return stored


def bytes_per_step(obs: Mapping[str, np.ndarray], action_size: int) -> int:
    """RAM one stored transition takes: `obs` (one env observation, image included) in the
    replay's storage dtypes plus the float32 action. About 12.3 KB for a 64x64x3 image."""
    stored = _storage_dtypes({**obs, "action": np.zeros(action_size, np.float32)})
    return sum(value.nbytes for value in stored.values())


def replay_ram_note(
    step_bytes: int, steps: int, action_repeat: int, capacity: int
) -> tuple[str, str | None]:
    """What a run's replay will hold: (a one-line estimate, a warning if it evicts or None).

    Args:
        step_bytes: RAM per stored transition (`bytes_per_step`).
        steps: the run's length in env frames; it records steps / action_repeat decisions.
        capacity: the replay's `dataset_size` in transitions; 0 = unlimited (keep the run).

    The warning says that a capacity below the run's decisions evicts its oldest episodes,
    which the paper's runs (unlimited replay) never do. Per-episode reset frames (one entry
    per episode) are left out of the estimate.
    """
    decisions = -(-steps // action_repeat)
    kept = min(capacity, decisions) if capacity else decisions
    limit = f"dataset_size {capacity:,}" if capacity else "dataset_size 0 keeps the whole run"
    note = (
        f"replay: up to {kept:,} steps in RAM x {step_bytes / 1e3:.1f} KB = "
        f"~{kept * step_bytes / 1e9:.1f} GB ({limit})"
    )
    warning = None
    if capacity and capacity < decisions:
        warning = (
            f"dataset_size {capacity:,} < this run's {decisions:,} decisions: the oldest "
            f"{decisions - capacity:,} steps will be evicted; the paper's runs keep all "
            "(dataset_size 0)"
        )
    return note, warning


class Replay:
    """Finished episodes in RAM (bounded in transitions), mirrored on disk, sampled as windows.

    Construction rebuilds the RAM contents from the episode files in `directory` (resume).

    Args:
        directory: where finished episodes are saved and rebuilt from; None keeps RAM only.
        capacity: most transitions kept in RAM, 0 for unlimited. The oldest episodes are
            evicted first; the newest is always kept, even if it alone exceeds the capacity.
        length: T, the number of consecutive entries (reset frame included) per sequence.
            Episodes with fewer than T entries are never sampled.
        seed: seed of the sampler's own generator, so sampling is reproducible.
        oversample_ends: draw the start from [0, n - 1] and clip it to n - T (n entries), as
            the reference does, which gives the last window of an episode weight T / n
            instead of 1 / (n - T + 1), so episode ends are seen more often.
        save: write each finished episode to `directory`.
    """

    def __init__(
        self,
        directory: str | os.PathLike | None,
        capacity: int,
        length: int,
        seed: int,
        oversample_ends: bool = False,
        save: bool = True,
    ):
        if length < 1:
            raise ValueError(f"Sequence length must be positive, got {length}.")
        if save and directory is None:
            raise ValueError("save=True needs a directory.")
        self._directory = None if directory is None else Path(directory)
        self._capacity = int(capacity)
        self._length = int(length)
        self._oversample_ends = oversample_ends
        self._save = save
        self._rng = np.random.default_rng(seed)
        self._episodes: dict[str, Episode] = {}  # Insertion order = age, oldest first.
        self._eligible: list[str] | None = None  # Keys long enough to sample; None = stale.
        self._running: list[dict[str, np.ndarray]] = []
        self._num_steps = 0
        self._nbytes = 0
        files = [] if self._directory is None else _episode_files(self._directory)
        self._total_episodes = len(files)
        self._total_steps = sum(length for _, length in files)
        for key, episode in _load_newest(files, self._capacity).items():
            self._insert(key, episode)

    @property
    def num_episodes(self) -> int:
        """Finished episodes held in RAM."""
        return len(self._episodes)

    @property
    def num_steps(self) -> int:
        """Transitions held in RAM (an episode of L + 1 entries counts L)."""
        return self._num_steps

    @property
    def total_episodes(self) -> int:
        """Episodes ever recorded: those on disk at construction plus those added since."""
        return self._total_episodes

    @property
    def total_steps(self) -> int:
        """Transitions ever recorded, evicted ones included (rebuilds a step counter)."""
        return self._total_steps

    @property
    def sampler_state(self) -> dict:
        """The state of the sampling generator; assigning one taken earlier repeats the draws
        made since (`vsg.prefetch` redraws a batch sampled ahead this way)."""
        return self._rng.bit_generator.state

    @sampler_state.setter
    def sampler_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def stats(self) -> dict[str, float]:
        """Replay statistics for logging; `ram_gb` counts the stored arrays only."""
        return {
            "episodes": self.num_episodes,
            "steps": self.num_steps,
            "total_episodes": self.total_episodes,
            "total_steps": self.total_steps,
            "ram_gb": self._nbytes / 1e9,
        }

    def add_step(self, obs: Mapping[str, np.ndarray], action: np.ndarray) -> Path | None:
        """Record one step of the running episode; finish it when `obs['is_last']` is set.

        Args:
            obs: observation from env.reset() or env.step(), with `is_first` and `is_last`.
            action: float [A], the action that led to `obs` (zeros for the reset frame).

        Returns: the saved file's path when this step finished an episode (and save is on).
        """
        # Copies, because environments may reuse their observation buffers.
        step = {key: np.array(value) for key, value in obs.items()}
        step["action"] = np.array(action)
        if step["is_first"]:
            if self._running:
                warnings.warn(
                    f"Discarding an unfinished episode of {len(self._running) - 1} "
                    "transitions: a new episode began before is_last.",
                    stacklevel=2,
                )
            self._running = []
        elif not self._running:
            raise ValueError("The first step of an episode must have is_first set.")
        self._running.append(step)
        if not step["is_last"]:
            return None
        episode = {key: np.stack([s[key] for s in self._running]) for key in step}
        self._running = []
        return self._finish(_storage_dtypes(episode))

    def add_episode(self, episode: Mapping[str, np.ndarray]) -> Path | None:
        """Store a finished episode (copied); returns the saved file's path if save is on."""
        return self._finish(_storage_dtypes({key: np.array(v) for key, v in episode.items()}))

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """Sample B windows of T consecutive entries, each from a uniformly chosen episode.

        Returns: key -> array [B, T, ...] with the stored dtypes (image uint8 [B, T, H, W, C],
        action float32 [B, T, A], reward float32 [B, T], flags bool [B, T]). `is_first` is
        left as stored, so it is True at t = 0 only for windows that start at the reset frame.
        """
        eligible = self._eligible_keys()
        if not eligible:
            raise ValueError(
                f"No episode with at least {self._length} entries among "
                f"{self.num_episodes} stored; collect more data before sampling."
            )
        windows = []
        for _ in range(batch_size):
            episode = self._episodes[eligible[self._rng.integers(len(eligible))]]
            start = self._start_index(episode_length(episode) + 1)
            windows.append(
                {key: value[start : start + self._length] for key, value in episode.items()}
            )
        return {key: np.stack([window[key] for window in windows]) for key in windows[0]}

    def _start_index(self, entries: int) -> int:
        last = entries - self._length
        if self._oversample_ends:
            return min(int(self._rng.integers(0, entries)), last)
        return int(self._rng.integers(0, last + 1))

    def _eligible_keys(self) -> list[str]:
        if self._eligible is None:
            self._eligible = [
                key
                for key, episode in self._episodes.items()
                if episode_length(episode) + 1 >= self._length
            ]
        return self._eligible

    def _finish(self, episode: Episode) -> Path | None:
        path = save_episode(self._directory, episode) if self._save else None
        self._total_episodes += 1
        self._total_steps += episode_length(episode)
        self._insert(uuid.uuid4().hex if path is None else path.stem, episode)
        return path

    def _insert(self, key: str, episode: Episode) -> None:
        self._episodes[key] = episode
        self._num_steps += episode_length(episode)
        self._nbytes += sum(value.nbytes for value in episode.values())
        while self._capacity and self._num_steps > self._capacity and len(self._episodes) > 1:
            oldest = self._episodes.pop(next(iter(self._episodes)))
            self._num_steps -= episode_length(oldest)
            self._nbytes -= sum(value.nbytes for value in oldest.values())
        self._eligible = None
