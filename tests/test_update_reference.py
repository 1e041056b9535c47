"""Speed changes keep the model: one update's losses and gradients equal stored reference values.

`tests/data/update_reference.json` holds, for fixed weights (seed 0) and fixed data, the losses
and metrics of one update and the norm of every world-model gradient, as the code computed them
before any speed change (commit 3ccb85e, the formulation of DreamerV2's networks with
`tf.nn.conv2d_transpose` and `tf.scan`). Learning rates are 0 so the actor-critic sees the same
weights as the world model's loss. A speed change may move these values by float32 round-off
only. Regenerate (`python tests/test_update_reference.py --write`) only for a change that is
meant to change the model, and say so in its commit.
"""

import json
import pathlib
import sys

import numpy as np
import pytest

from vsg.agent import Agent
from vsg.bench import random_batch
from vsg.config import load_config

REFERENCE = pathlib.Path(__file__).parent / "data" / "update_reference.json"
PRESETS = ("dreamerv2", "svsg")
ACTIONS = 2
ZERO_LR = ["--model_lr", "0", "--actor_lr", "0", "--value_lr", "0", "--precision", "32"]


def update_values(preset):
    """{'metrics': one update's metrics, 'wm_grad_norms': [norm per world-model variable],
    'shapes': [their shapes]} at the tiny sizes, float32, seed 0."""
    import tensorflow as tf

    tf.random.set_seed(0)
    config = load_config(["--configs", "dmc", preset, "tiny", "--dyn_stoch", "4", *ZERO_LR])
    agent = Agent(config, ACTIONS)
    data = {
        key: tf.constant(value)
        for key, value in random_batch(config.batch_size, config.batch_length, ACTIONS).items()
    }
    variables = agent.wm.trainable_variables

    @tf.function
    def wm_gradients():
        with tf.GradientTape() as tape:
            total, _, metrics = agent.wm.loss(data)
        return metrics, [tf.norm(g) for g in tape.gradient(total, variables)]

    metrics, norms = wm_gradients()
    update = agent.train(data)
    return {
        "loss_metrics": {key: float(value) for key, value in metrics.items()},
        "update_metrics": {key: float(value) for key, value in update.items()},
        "wm_grad_norms": [float(norm) for norm in norms],
        "shapes": [v.shape.as_list() for v in variables],
    }


@pytest.mark.parametrize("preset", PRESETS)
def test_update_matches_the_reference_within_float32_round_off(preset):
    expected = json.loads(REFERENCE.read_text())[preset]
    actual = update_values(preset)
    assert actual["shapes"] == expected["shapes"]
    for part in ("loss_metrics", "update_metrics"):
        assert actual[part].keys() == expected[part].keys()
        for key, value in expected[part].items():
            np.testing.assert_allclose(actual[part][key], value, rtol=1e-4, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(actual["wm_grad_norms"], expected["wm_grad_norms"], rtol=1e-4)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    REFERENCE.write_text(json.dumps({p: update_values(p) for p in PRESETS}, indent=1) + "\n")
