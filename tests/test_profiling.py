"""`vsg.profiling`: op families, analytic FLOP counts and the profile of a real update."""

import pytest

from vsg import profiling
from vsg.agent import Agent
from vsg.bench import ACTION_SIZE, case_config, random_batch


@pytest.mark.parametrize(
    "name, op_type, family",
    [
        ("encoder/Conv2D_1", "Conv2D", profiling.CONV),
        ("gradient_tape/encoder/Conv2DBackpropInput", "Conv2DBackpropInput", profiling.CONV_GRAD),
        ("decoder/conv2d_transpose", "Conv2DBackpropInput", profiling.DECONV),
        ("gradient_tape/decoder/conv2d_transpose/Conv2D", "Conv2D", profiling.DECONV_GRAD),
        ("scan/while/body/_1/scan/while/MatMul", "MatMul", profiling.SCAN),
        ("gradient_tape/scan/while/scan/while_grad/body/_3/x/AddN", "AddN", profiling.SCAN_GRAD),
        ("behavior/MatMul_3", "MatMul", profiling.BEHAVIOR),
        ("Tensordot_2/MatMul", "MatMul", profiling.HEADS),
        ("behavior/MatMul_3", "_MklMatMul", profiling.BEHAVIOR),  # oneDNN's kernels
        ("gradient_tape/behavior/MatMul_1", "_MklFusedMatMul", profiling.BEHAVIOR),
        ("behavior/transpose", "_MklTranspose", profiling.COPIES),
        ("behavior/TruncatedNormal/entropy/Exp", "Exp", profiling.DISTRIBUTIONS),
        ("behavior/transpose", "Transpose", profiling.COPIES),
        ("ResourceApplyAdam_3", "ResourceApplyAdam", profiling.OPTIMIZER),
        ("add_1", "AddV2", profiling.OTHER),
    ],
)
def test_op_families(name, op_type, family):
    assert profiling.op_family(name, op_type) == family


def test_flops_at_dreamerv2_sizes():
    """Counted by hand for B16 x T50 = 800 images: 2 x positions x k^2 x in x out per layer."""
    agent = Agent(case_config("dreamerv2", "dreamerv2"), ACTION_SIZE)
    flops = profiling.update_flops(agent)
    assert flops[profiling.CONV] == 1600 * (961 * 2304 + 196 * 73728 + 36 * 294912 + 4 * 1179648)
    decoder = 1600 * (7372800 + 25 * 460800 + 169 * 165888 + 900 * 5184 + 1224 * 1536)
    assert flops[profiling.DECONV] == decoder
    assert flops[profiling.DECONV_GRAD] == 2 * decoder
    assert 600e9 < sum(flops.values()) < 700e9


@pytest.mark.slow
def test_profile_of_a_tiny_update_times_every_network(capsys):
    config = case_config("tiny", "dreamerv2")
    agent = Agent(config, ACTION_SIZE)
    data = random_batch(config.batch_size, config.batch_length, ACTION_SIZE)
    agent.train(data)
    wall, ops = profiling.profile_call(lambda: agent.train(data))
    families = {profiling.op_family(name, op_type) for name, op_type, _ in ops}
    assert set(profiling.FAMILIES) - families == set()
    assert 0 < wall and all(seconds >= 0 for _, _, seconds in ops)
    profiling.profile_update(agent, data, "[tiny]")
    table = capsys.readouterr().out.splitlines()
    assert table[1].startswith("| op family | op time (s) |")
    rows = 2 + len(profiling.FAMILIES) + 2
    assert table[1 + rows] == "[tiny] slowest ops:"
    assert len(table) == 1 + rows + 1 + 12 + 1
