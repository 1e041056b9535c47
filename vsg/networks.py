"""Image encoder and decoder: DreamerV2's convolutional networks, which VSG keeps."""

import tensorflow as tf

from vsg import nn


class ConvEncoder(tf.Module):
    """4 'valid' convs, kernel 4, stride 2, channels d, 2d, 4d, 8d, ELU.

    image [..., 64, 64, 3] in [-0.5, 0.5] -> embedding [..., 32 d].
    """

    def __init__(self, depth, dtype=tf.float32):
        super().__init__(name="encoder")
        channels = [3, depth, 2 * depth, 4 * depth, 8 * depth]
        self.convs = [
            nn.Conv2D(a, b, 4, 2, tf.nn.elu, dtype, name=f"conv{i}")
            for i, (a, b) in enumerate(zip(channels[:-1], channels[1:], strict=True))
        ]
        self.embed_size = 32 * depth

    def __call__(self, image):
        with self.name_scope:  # the profiler tells encoder and decoder ops apart by scope
            lead = tf.shape(image)[:-3]
            x = tf.reshape(image, tf.concat([[-1], tf.shape(image)[-3:]], 0))
            for conv in self.convs:
                x = conv(x)
            return tf.reshape(x, tf.concat([lead, [self.embed_size]], 0))


class ConvDecoder(tf.Module):
    """Dense(32 d) -> 1x1 -> transposed convs (kernels 5, 5, 6, 6; channels 4d, 2d, d, 3).

    features [..., F] -> mean image [..., 64, 64, 3] of a unit-variance Normal.
    """

    def __init__(self, feature_size, depth, dtype=tf.float32):
        super().__init__(name="decoder")
        self.linear = nn.Dense(feature_size, 32 * depth, None, dtype, name="linear")
        channels = [32 * depth, 4 * depth, 2 * depth, depth, 3]
        kernels = [5, 5, 6, 6]
        acts = [tf.nn.elu, tf.nn.elu, tf.nn.elu, None]
        self.deconvs = [
            nn.ConvTranspose2D(channels[i], channels[i + 1], kernels[i], 2, acts[i], dtype, f"t{i}")
            for i in range(4)
        ]
        self.depth = depth

    def __call__(self, features):
        with self.name_scope:
            lead = tf.shape(features)[:-1]
            x = self.linear(features)
            x = tf.reshape(x, [-1, 1, 1, 32 * self.depth])
            for deconv in self.deconvs:
                x = deconv(x)
            return tf.reshape(x, tf.concat([lead, [64, 64, 3]], 0))
