"""Atomic checkpoints: a `tf.train.Checkpoint` written to a temp folder, then renamed.

A checkpoint may carry a small JSON record, `meta.json` (the env frame it was taken at), written
into the same folder before the rename, so tools read it without TensorFlow (`vsg.rundir`).

`<run>/checkpoint/` is either the complete previous checkpoint or the complete new one:
the new one is written to `checkpoint.tmp/`, the old one is renamed to `checkpoint.old/`,
the new one is renamed into place, and only then is the old one deleted. If the process dies
between the two renames, `restore` falls back to `checkpoint.old/`; a `checkpoint.tmp/` left by
a process that died while writing is deleted by `restore`. Ctrl-C and SIGTERM cannot cut a
save short: they take effect once it is done (`vsg.interrupts.uninterruptible`).
"""

import json
import pathlib
import shutil

import tensorflow as tf

from vsg.interrupts import uninterruptible
from vsg.rundir import CHECKPOINT_META


class Checkpointer:
    """Saves and restores every variable reachable from `objects` (networks, optimiser
    slots, counters, the random generator)."""

    def __init__(self, directory, **objects):
        self.directory = pathlib.Path(directory)
        self.checkpoint = tf.train.Checkpoint(**objects)

    def _sibling(self, suffix):
        return self.directory.with_name(self.directory.name + suffix)

    def save(self, meta=None):
        """Writes a complete new checkpoint in place of the old one, with `meta` (a dict of
        JSON values) as its meta.json."""
        tmp, old = self._sibling(".tmp"), self._sibling(".old")
        with uninterruptible("saving a checkpoint"):
            if tmp.exists():
                shutil.rmtree(tmp)
            self.checkpoint.write(str(tmp / "ckpt"))
            if meta is not None:
                (tmp / CHECKPOINT_META).write_text(json.dumps(meta))
            if self.directory.exists():
                if old.exists():
                    shutil.rmtree(old)
                self.directory.rename(old)
            tmp.rename(self.directory)
            if old.exists():
                shutil.rmtree(old)

    def restore(self):
        """Restores the latest complete checkpoint; returns False if there is none."""
        tmp, old = self._sibling(".tmp"), self._sibling(".old")
        if tmp.exists():  # a write that never finished
            shutil.rmtree(tmp)
        if not self.directory.exists() and old.exists():
            old.rename(self.directory)
        if not self.directory.exists():
            return False
        status = self.checkpoint.read(str(self.directory / "ckpt"))
        status.assert_existing_objects_matched()
        return True


def saved_step(directory):
    """The env frame stored in the checkpoint at `directory` (variable `step`), for
    checkpoints written before meta.json recorded it."""
    for folder in (pathlib.Path(directory), pathlib.Path(str(directory) + ".old")):
        if folder.is_dir():
            reader = tf.train.load_checkpoint(str(folder / "ckpt"))
            return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
    return None
