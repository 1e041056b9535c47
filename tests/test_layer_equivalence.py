"""Each faster layer formulation computes what TensorFlow's plain ops compute.

The reference here is the formulation the layers had before the speed work (`tf.nn.conv2d`,
`tf.nn.conv2d_transpose`); forward values and the gradients with respect to the input, kernel
and bias must agree within float32 round-off, at the sizes DreamerV2's networks use (depth
48) and at odd small ones.
"""

import numpy as np
import pytest
import tensorflow as tf

from vsg import nn


def grads_of(fn, x, variables):
    """(output, gradients of a fixed random projection of the output w.r.t. x and variables)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        weights = tf.random.stateless_normal(tf.shape(y), [1, 2])
        loss = tf.reduce_sum(y * weights)
    return y, tape.gradient(loss, [x, *variables])


def assert_close(actual, expected):
    scale = float(tf.reduce_max(tf.abs(expected)))
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "side, in_ch, out_ch", [(64, 3, 48), (31, 48, 96), (14, 96, 192), (6, 192, 384), (7, 8, 4)]
)
def test_conv(side, in_ch, out_ch):
    tf.random.set_seed(1)
    layer = nn.Conv2D(in_ch, out_ch, 4, 2, tf.nn.elu)
    layer.bias.assign(tf.random.normal([out_ch]))
    x = tf.random.normal([3, side, side, in_ch])

    def reference(x):
        return tf.nn.elu(tf.nn.conv2d(x, layer.kernel, 2, "VALID") + layer.bias)

    variables = [layer.kernel, layer.bias]
    y, grads = grads_of(layer, x, variables)
    y_ref, grads_ref = grads_of(reference, x, variables)
    out = (side - 4) // 2 + 1
    assert y.shape == (3, out, out, out_ch)
    for actual, expected in zip([y, *grads], [y_ref, *grads_ref], strict=True):
        assert_close(actual, expected)


@pytest.mark.parametrize(
    "side, in_ch, out_ch, kernel",
    [(1, 1536, 192, 5), (5, 192, 96, 5), (13, 96, 48, 6), (30, 48, 3, 6), (1, 24, 8, 6)],
)
def test_conv_transpose(side, in_ch, out_ch, kernel):
    tf.random.set_seed(1)
    layer = nn.ConvTranspose2D(in_ch, out_ch, kernel, 2, tf.nn.elu)
    layer.bias.assign(tf.random.normal([out_ch]))
    x = tf.random.normal([3, side, side, in_ch])
    out = (side - 1) * 2 + kernel

    def reference(x):
        y = tf.nn.conv2d_transpose(x, layer.kernel, [3, out, out, out_ch], 2, "VALID")
        return tf.nn.elu(y + layer.bias)

    variables = [layer.kernel, layer.bias]
    y, grads = grads_of(layer, x, variables)
    y_ref, grads_ref = grads_of(reference, x, variables)
    assert y.shape == (3, out, out, out_ch)
    for actual, expected in zip([y, *grads], [y_ref, *grads_ref], strict=True):
        assert_close(actual, expected)
