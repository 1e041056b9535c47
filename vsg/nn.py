"""Minimal layers on `tf.Module`: every variable exists after construction.

Variables are float32; each layer casts them to its compute dtype (float32, float16 or
bfloat16) when called, which is all that mixed precision needs. Building eagerly with known
sizes keeps checkpoints restorable before the first call and avoids Keras version drift.
"""

import math

import tensorflow as tf


def _glorot(shape, fan_in, fan_out, name):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    initial = tf.random.uniform(shape, -limit, limit, dtype=tf.float32)
    return tf.Variable(initial, name=name)


class Dense(tf.Module):
    """Affine map [..., in_size] -> [..., out_size] with optional activation."""

    def __init__(self, in_size, out_size, act=None, dtype=tf.float32, name=None):
        super().__init__(name=name)
        self.kernel = _glorot([in_size, out_size], in_size, out_size, "kernel")
        self.bias = tf.Variable(tf.zeros([out_size]), name="bias")
        self.act = act
        self.compute_dtype = dtype

    def __call__(self, x):
        x = tf.cast(x, self.compute_dtype)
        kernel = tf.cast(self.kernel, self.compute_dtype)
        bias = tf.cast(self.bias, self.compute_dtype)
        if x.shape.rank == 2:
            y = tf.matmul(x, kernel) + bias
        else:
            y = tf.tensordot(x, kernel, [[-1], [0]]) + bias
        return self.act(y) if self.act else y


class LayerNorm(tf.Module):
    """Layer normalisation over the last axis, computed in float32 for stability."""

    def __init__(self, size, epsilon=1e-3, name=None):
        super().__init__(name=name)
        self.scale = tf.Variable(tf.ones([size]), name="scale")
        self.offset = tf.Variable(tf.zeros([size]), name="offset")
        self.epsilon = epsilon

    def __call__(self, x):
        dtype = x.dtype
        x = tf.cast(x, tf.float32)
        mean, var = tf.nn.moments(x, [-1], keepdims=True)
        x = (x - mean) * tf.math.rsqrt(var + self.epsilon)
        return tf.cast(x * self.scale + self.offset, dtype)


class Conv2D(tf.Module):
    """'valid' strided convolution, NHWC.

    Where the output is at most 2x2 (the encoder's last layer), the convolution is computed as
    image patches times the kernel matrix: TensorFlow's CPU kernel for the input gradient of
    such a convolution was ~10x slower than this. The values are the same up to float32
    round-off; larger outputs use `tf.nn.conv2d`, which is faster there.
    """

    def __init__(self, in_ch, out_ch, kernel, stride=2, act=None, dtype=tf.float32, name=None):
        super().__init__(name=name)
        shape = [kernel, kernel, in_ch, out_ch]
        self.kernel = _glorot(shape, kernel * kernel * in_ch, kernel * kernel * out_ch, "kernel")
        self.bias = tf.Variable(tf.zeros([out_ch]), name="bias")
        self.size = kernel
        self.stride = stride
        self.act = act
        self.compute_dtype = dtype

    def __call__(self, x):
        kernel = tf.cast(self.kernel, self.compute_dtype)
        x = tf.cast(x, self.compute_dtype)
        side = None if x.shape[1] is None else (x.shape[1] - self.size) // self.stride + 1
        if side is not None and side <= 2:
            y = self._from_patches(x, kernel)
        else:
            y = tf.nn.conv2d(x, kernel, self.stride, "VALID")
        y = y + tf.cast(self.bias, self.compute_dtype)
        return self.act(y) if self.act else y

    def _from_patches(self, x, kernel):
        """y[n, a, b] = patch(a, b) of x[n], flattened (row, column, channel), times the
        kernel as a [k * k * in, out] matrix (the same flattening order)."""
        k, s = self.size, self.stride
        patches = tf.image.extract_patches(x, [1, k, k, 1], [1, s, s, 1], [1, 1, 1, 1], "VALID")
        rows = tf.reshape(patches, [-1, patches.shape[-1]])
        y = tf.matmul(rows, tf.reshape(kernel, [-1, kernel.shape[-1]]))
        return tf.reshape(y, tf.concat([tf.shape(patches)[:3], [kernel.shape[-1]]], 0))


class ConvTranspose2D(tf.Module):
    """'valid' strided transposed convolution, NHWC: side -> (side - 1) * stride + kernel.

    On a 1x1 input (the decoder's first layer) it is a matrix product: each output pixel is
    the input vector times that pixel's kernel slice. TensorFlow's transposed-convolution
    kernel is ~50x slower there on CPU, so that case is computed with `tf.matmul` instead;
    the values are the same up to float32 round-off.
    """

    def __init__(self, in_ch, out_ch, kernel, stride=2, act=None, dtype=tf.float32, name=None):
        super().__init__(name=name)
        shape = [kernel, kernel, out_ch, in_ch]
        self.kernel = _glorot(shape, kernel * kernel * in_ch, kernel * kernel * out_ch, "kernel")
        self.bias = tf.Variable(tf.zeros([out_ch]), name="bias")
        self.size = kernel
        self.stride = stride
        self.in_ch = in_ch
        self.out_ch = out_ch
        self.act = act
        self.compute_dtype = dtype

    def __call__(self, x):
        kernel = tf.cast(self.kernel, self.compute_dtype)
        x = tf.cast(x, self.compute_dtype)
        if x.shape[1] == 1 and x.shape[2] == 1:
            y = self._from_point(x, kernel)
        else:
            batch = tf.shape(x)[0]
            side = (x.shape[1] - 1) * self.stride + self.size
            out_shape = tf.stack([batch, side, side, self.out_ch])
            y = tf.nn.conv2d_transpose(x, kernel, out_shape, self.stride, "VALID")
        y = y + tf.cast(self.bias, self.compute_dtype)
        return self.act(y) if self.act else y

    def _from_point(self, x, kernel):
        """[N, 1, 1, in] -> [N, k, k, out]: y[n, i, j, o] = sum_c x[n, c] kernel[i, j, o, c]."""
        k = self.size
        rows = tf.reshape(kernel, [k * k * self.out_ch, self.in_ch])  # no copy
        y = tf.matmul(tf.reshape(x, [-1, self.in_ch]), rows, transpose_b=True)
        return tf.reshape(y, [-1, k, k, self.out_ch])


class MLP(tf.Module):
    """`layers` hidden Dense+ELU layers of `units`, then a linear output of `out_size`."""

    def __init__(self, in_size, out_size, layers, units, dtype=tf.float32, name=None):
        super().__init__(name=name)
        sizes = [in_size] + [units] * layers
        self.hidden = [
            Dense(a, b, tf.nn.elu, dtype, name=f"h{i}")
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        ]
        self.out = Dense(sizes[-1], out_size, None, dtype, name="out")

    def __call__(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)
