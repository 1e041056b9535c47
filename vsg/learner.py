"""The TensorFlow side of a run: the agent and its checkpoint behind the loop's `Learner`.

Import it only after `vsg.quiet.import_tensorflow` (which hides TensorFlow's start-up lines).
"""

import tensorflow as tf

from vsg.agent import Agent, FrozenPolicy, stack_observations
from vsg.checkpoint import Checkpointer
from vsg.loop import Learner
from vsg.probe import cheap_probe
from vsg.rundir import checkpoint_dir, eval_policy_seed


class AgentLearner(Learner):
    """`vsg.agent.Agent` with the run's checkpoint (agent and env frame) and a frozen policy
    for evaluation. The global TensorFlow seed is the run seed, set before the agent is built.
    """

    def __init__(self, config, action_size, run_dir):
        tf.random.set_seed(config.seed)
        self.config = config
        self._step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.agent = Agent(config, action_size)
        self._frozen = FrozenPolicy(config, action_size)
        self._checkpointer = Checkpointer(
            checkpoint_dir(run_dir), agent=self.agent, step=self._step
        )
        self._explore = tf.constant(True)
        self._updates = 0  # the agent's update counter, kept on the host
        self._pending = []  # per update: its metrics stacked into one tensor, on the device
        self._metric_names = None

    @property
    def updates(self):
        return self._updates

    def act(self, observations, state):
        if state is None:
            state = self.agent.initial_policy_state(len(observations))
        action, state = self.agent.policy(stack_observations(observations), state, self._explore)
        return action.numpy(), state

    def train(self, batch):
        metrics = self.agent.train(batch)
        self._metric_names = list(metrics)
        self._pending.append(tf.stack([tf.cast(value, tf.float32) for value in metrics.values()]))
        self._updates += 1

    def metrics(self):
        if not self._pending:
            return {}
        values = tf.stack(self._pending).numpy()  # [updates, metrics]: one device-to-host copy
        self._pending = []
        return {name: values[:, i].tolist() for i, name in enumerate(self._metric_names)}

    def probe(self, batch):
        return cheap_probe(self.agent, batch)

    def report(self, batch):
        video, gates = self.agent.report(batch)
        return video.numpy(), None if gates is None else gates.numpy()

    def eval_policy(self, step):
        self._frozen.copy_from(self.agent, eval_policy_seed(self.config, step))
        frozen = self._frozen

        def policy(observations, state):
            if state is None:
                state = frozen.initial_state(len(observations))
            action, state = frozen(stack_observations(observations), state)
            return action.numpy(), state

        return policy

    def restore(self):
        restored = self._checkpointer.restore()
        self._updates = int(self.agent.behavior.updates.numpy())
        return int(self._step.numpy()) if restored else None

    def save(self, step):
        self._step.assign(step)
        self._checkpointer.save(meta={"step": int(step)})
