"""When a run trains, logs, records videos, evaluates and saves, keyed on env frames.

Every interval in the config counts env frames (`train_every` counts decisions, i.e.
`action_repeat` frames each). With `envs: N` one step of the loop advances N decisions, so an
interval can be crossed more than once in one step; `Every` says how many times.
"""


class Every:
    """How many multiples of `interval` the env-frame counter crossed since the last call.

    `start` is the frame the run starts (or resumes) at; multiples up to it count as done. The
    result is 0 when nothing is due, so it reads as a truth value.
    """

    def __init__(self, interval: int, start: int):
        self.interval = interval
        self.last = start // interval

    def __call__(self, step: int) -> int:
        crossed = step // self.interval - self.last
        if crossed <= 0:
            return 0
        self.last = step // self.interval
        return crossed


class Schedule:
    """The run's intervals: `train` (train_every decisions), `log`, `video`, `eval` and
    `checkpoint` (their `*_every` env frames), each an `Every` started at frame `start`."""

    def __init__(self, config, start: int):
        self.train = Every(config.train_every * config.action_repeat, start)
        self.log = Every(config.log_every, start)
        self.video = Every(config.video_every, start)
        self.eval = Every(config.eval_every, start)
        self.checkpoint = Every(config.checkpoint_every, start)
