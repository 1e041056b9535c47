"""Where the time of one update goes: `python -m vsg.bench --profile`.

Profiles one update with TensorFlow's profiler (`tf.profiler.experimental`), reads the kernel
times of every op back from the trace (`*.xplane.pb`), groups the ops into families and prints
a table of time, FLOPs and achieved GFLOP/s per family. FLOPs are counted analytically from the
layer sizes (2 multiply-adds per weight and row; gradients as the ops TensorFlow runs: a weight
gradient and an input gradient per layer, except the input gradients nobody needs), for the
convolutions and matrix products only; elementwise ops are counted as 0 FLOPs.

Op times are kernel wall times summed over ops; two ops can run at once on separate cores, so
their sum can exceed the update's wall time, and the time between ops (executor overhead, the
while loop's bookkeeping) is in neither.
"""

import collections
import pathlib
import tempfile
import time

import numpy as np
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

CONV, CONV_GRAD = "encoder (4 convs), forward", "encoder, gradients"
DECONV, DECONV_GRAD = "decoder (dense, 4 conv-transposes), forward", "decoder, gradients"
SCAN, SCAN_GRAD = "observe scan (GRU, prior, posterior), forward", "observe scan, gradients"
HEADS = "matmul: reward and discount heads (fwd + grad)"
BEHAVIOR = "matmul: imagination, actor, critic (fwd + grad)"
DISTRIBUTIONS = "distributions (sampling, truncated normal)"
COPIES = "casts, transposes, copies"
OPTIMIZER = "optimiser (Adam, norms, clipping)"
OTHER = "elementwise, reductions, other"
FAMILIES = [CONV, CONV_GRAD, DECONV, DECONV_GRAD, SCAN, SCAN_GRAD, HEADS, BEHAVIOR]
FAMILIES += [DISTRIBUTIONS, COPIES, OPTIMIZER, OTHER]

COPY_TYPES = {
    "Cast", "Transpose", "Reshape", "ConcatV2", "Pack", "Unpack", "Slice", "StridedSlice",
    "StridedSliceGrad", "Tile", "Identity", "Fill", "ZerosLike", "OnesLike", "SplitV", "Split",
    "Bitcast", "Squeeze", "ExpandDims", "BroadcastTo", "GatherV2", "Shape", "Snapshot",
    "TensorListFromTensor", "TensorListStack", "TensorListGetItem", "TensorListSetItem",
    "TensorListPushBack", "TensorListPopBack", "TensorListReserve", "TensorListElementShape",
}  # fmt: skip
DISTRIBUTION_TYPES = {"Softmax", "LogSoftmax", "ArgMax", "OneHot", "Erf", "Erfc", "Erfinv"}
DISTRIBUTION_SCOPES = ("TruncatedNormal", "stateful_uniform", "stateful_normal", "Categorical")
OPTIMIZER_TYPES = {"ResourceApplyAdam", "AssignVariableOp", "AssignAddVariableOp", "L2Loss"}
OPTIMIZER_SCOPES = ("global_norm", "clip_by_global_norm")


def base_op_type(op_type):
    """The TensorFlow op type behind a oneDNN kernel's (`_MklNativeConv2D` -> `Conv2D`,
    `_MklFusedMatMul` -> `MatMul`); other op types unchanged."""
    for prefix in ("_MklNativeFused", "_MklNative", "_MklFused", "_Mkl"):
        if op_type.startswith(prefix):
            return op_type[len(prefix) :]
    return op_type


def op_family(name, op_type):
    """The family (a FAMILIES entry) of the op `name` of type `op_type` in an update (a oneDNN
    kernel's type counts as its TensorFlow op's)."""
    op_type = base_op_type(op_type)
    grad = name.startswith("gradient_tape/")
    scopes = name.split("/")
    if "encoder" in scopes:  # every op of a network, including its bias adds and ELUs
        return CONV_GRAD if grad else CONV
    if "decoder" in scopes:
        return DECONV_GRAD if grad else DECONV
    if "scan" in scopes[:2]:  # the observe scan (the one tf.scan of an update) and its gradient
        return SCAN_GRAD if grad else SCAN
    if op_type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
        return BEHAVIOR if "behavior" in scopes else HEADS
    if op_type in COPY_TYPES:
        return COPIES
    if op_type in OPTIMIZER_TYPES or op_type.startswith("ReadVariable"):
        return OPTIMIZER
    if any(part.startswith(OPTIMIZER_SCOPES) for part in scopes):
        return OPTIMIZER
    if op_type in DISTRIBUTION_TYPES or "Random" in op_type or op_type == "RngReadAndSkip":
        return DISTRIBUTIONS
    if any(part.startswith(DISTRIBUTION_SCOPES) for part in scopes):
        return DISTRIBUTIONS
    return OTHER


def op_times(logdir):
    """[(op name, op type, seconds)] of every op kernel in the profile written to `logdir`."""
    (path,) = pathlib.Path(logdir).glob("plugins/profile/*/*.xplane.pb")
    space = xplane_pb2.XSpace()
    space.ParseFromString(path.read_bytes())
    ops = []
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                full = plane.event_metadata[event.metadata_id].name
                name, _, op_type = full.rpartition(":")
                if name and op_type and "::" not in full:  # op kernels: "scope/op:Type"
                    ops.append((name, op_type, event.duration_ps * 1e-12))
    return ops


def profile_call(fn):
    """Runs `fn()` once under the profiler; returns (wall seconds, op times as `op_times`)."""
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        return wall, op_times(logdir)


# --- FLOPs ---------------------------------------------------------------------------


def used_kernels(fn):
    """The matrix (rank-2) weights `fn()` reads, found by running it once eagerly."""
    with tf.GradientTape() as tape:
        fn()
    return [v for v in tape.watched_variables() if v.shape.rank == 2]


def weights(kernels):
    return sum(int(np.prod(k.shape)) for k in kernels)


def mlp_kernels(mlp):
    return [layer.kernel for layer in [*mlp.hidden, mlp.out]]


def dense_flops(rows, kernels, weight_grads, input_grads, first_input_grad=True):
    """Forward and backward FLOPs of dense layers applied to `rows` rows; the first layer's
    input gradient is skipped unless `first_input_grad` (its input needs no gradient)."""
    forward = 2 * rows * weights(kernels)
    backward = forward if weight_grads else 0
    if input_grads:
        backward += forward - (0 if first_input_grad else 2 * rows * weights(kernels[:1]))
    return forward, backward


def conv_flops(convs, rows, side, transposed):
    """Per-layer forward FLOPs of 'valid' stride-2 (transposed) convolutions from `side`."""
    flops = []
    for conv in convs:
        k, _, a, b = conv.kernel.shape  # conv: [k, k, in, out]; transposed: [k, k, out, in]
        out_side = (side - 1) * 2 + k if transposed else (side - k) // 2 + 1
        positions = side * side if transposed else out_side * out_side
        flops.append(2 * rows * positions * k * k * a * b)
        side = out_side
    return flops


def update_flops(agent):
    """{family: FLOPs} of one `agent.train` call, from the agent's layer sizes."""
    c, wm, behavior = agent.config, agent.wm, agent.behavior
    dyn = wm.dynamics
    rows = c.batch_size * c.batch_length
    state = dyn.initial(1)
    action = tf.zeros([1, agent.action_size])
    embed = tf.zeros([1, wm.encoder.embed_size])
    obs = used_kernels(lambda: dyn.obs_step(state, action, embed, tf.constant([False])))
    img = used_kernels(lambda: dyn.img_step(state, action))
    flops = collections.Counter()
    enc = conv_flops(wm.encoder.convs, rows, 64, transposed=False)
    flops[CONV] = sum(enc)
    flops[CONV_GRAD] = 2 * sum(enc) - enc[0]  # no input gradient for the image
    dec = conv_flops(wm.decoder.deconvs, rows, 1, transposed=True)
    linear = dense_flops(rows, [wm.decoder.linear.kernel], True, True, "image" in c.grad_heads)
    flops[DECONV] = sum(dec) + linear[0]
    flops[DECONV_GRAD] = 2 * sum(dec) + linear[1]
    flops[SCAN], flops[SCAN_GRAD] = dense_flops(rows, obs, True, True)
    heads = [(mlp_kernels(wm.reward), "reward")]
    if wm.discount is not None:
        heads.append((mlp_kernels(wm.discount), "discount"))
    for kernels, head in heads:
        flops[HEADS] += sum(dense_flops(rows, kernels, True, True, head in c.grad_heads))
    starts = c.batch_size * (c.batch_length - 1 if c.pred_discount else c.batch_length)
    steps = c.imag_horizon - 1  # imagined transitions; the actor acts in s_0 .. s_{H-2}
    actor = mlp_kernels(behavior.actor)
    critic = mlp_kernels(behavior.critic)
    flops[BEHAVIOR] += sum(dense_flops(starts * steps, img, False, True))
    flops[BEHAVIOR] += sum(dense_flops(starts * steps, actor, True, True, False))
    judged = [*mlp_kernels(wm.reward), *mlp_kernels(behavior.slow_critic)]
    if wm.discount is not None:
        judged += mlp_kernels(wm.discount)
    flops[BEHAVIOR] += sum(dense_flops(starts * c.imag_horizon, judged, False, True))
    flops[BEHAVIOR] += sum(dense_flops(starts * steps, critic, True, True, False))
    return flops


# --- the table ---------------------------------------------------------------------


def family_table(ops, flops, wall):
    """Markdown table rows: family, op time, share of op time, GFLOP, GFLOP/s."""
    seconds = collections.Counter()
    for name, op_type, duration in ops:
        seconds[op_family(name, op_type)] += duration
    total = sum(seconds.values())
    lines = [
        "| op family | op time (s) | share | GFLOP | GFLOP/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for family in FAMILIES:
        gflop = flops.get(family, 0) / 1e9
        rate = f"{gflop / seconds[family]:.0f}" if gflop and seconds[family] else "–"
        share = seconds[family] / total
        count = f"{gflop:.1f}" if gflop else "–"
        lines.append(f"| {family} | {seconds[family]:.3f} | {share:.0%} | {count} | {rate} |")
    gflop = sum(flops.values()) / 1e9
    lines.append(f"| all ops | {total:.3f} | 100% | {gflop:.1f} | {gflop / total:.0f} |")
    lines.append(f"| update wall time (profiled) | {wall:.3f} | | | {gflop / wall:.0f} |")
    return lines


def slowest_ops(ops, count):
    """Lines naming the `count` ops with the most summed time (an op in a loop runs often)."""
    seconds = collections.Counter()
    for name, op_type, duration in ops:
        seconds[(name, op_type)] += duration
    return [
        f"  {duration:8.3f} s  {op_type:<22} {name}"
        for (name, op_type), duration in seconds.most_common(count)
    ]


def profile_update(agent, data, label, runs=1):
    """Prints the op-family table of `agent.train(data)` (traced before; `runs` profiles,
    the op times of the fastest are printed) and the slowest ops."""
    profiles = [profile_call(lambda: agent.train(data)) for _ in range(runs)]
    wall, ops = min(profiles, key=lambda profile: profile[0])
    print(f"{label} profile of one update (op kernel times from tf.profiler):")
    for line in family_table(ops, update_flops(agent), wall):
        print(line)
    print(f"{label} slowest ops:")
    for line in slowest_ops(ops, 12):
        print(line)
    print(flush=True)
