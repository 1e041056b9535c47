"""Adam with global-norm clipping, decoupled weight decay and dynamic loss scaling.

Slots are plain `tf.Variable`s created with the optimiser, so a `tf.train.Checkpoint` of the
agent saves and restores every optimiser slot and step counter.
"""

import tensorflow as tf


class Adam(tf.Module):
    """Adam over a fixed list of variables, with DreamerV2's global-norm clipping.

    Usage inside `tf.GradientTape`: `scaled = opt.scale(loss)`; outside:
    `metrics = opt.apply(tape, scaled)`. Loss scaling is used for float16 compute only.
    """

    def __init__(self, name, variables, lr, eps, clip, weight_decay, loss_scaling=False):
        super().__init__(name=name)
        self.variables_ = list(variables)
        self.lr, self.eps, self.clip, self.weight_decay = lr, eps, clip, weight_decay
        self.beta1, self.beta2 = 0.9, 0.999
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables_]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables_]
        self.loss_scaling = loss_scaling
        self.loss_scale = tf.Variable(2.0**15 if loss_scaling else 1.0, trainable=False)
        self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False)

    def scale(self, loss):
        """Multiplies the loss by the current loss scale (identity without scaling)."""
        loss = tf.cast(loss, tf.float32)
        return loss * self.loss_scale if self.loss_scaling else loss

    def apply(self, tape, scaled_loss):
        """Computes, unscales, clips and applies gradients; returns metrics."""
        grads = tape.gradient(scaled_loss, self.variables_)
        grads = [
            tf.zeros_like(v) if g is None else tf.cast(g, tf.float32)
            for g, v in zip(grads, self.variables_, strict=True)
        ]
        if self.loss_scaling:
            grads = [g / self.loss_scale for g in grads]
        norm = tf.linalg.global_norm(grads)
        finite = tf.math.is_finite(norm)
        grads, _ = tf.clip_by_global_norm(grads, self.clip, use_norm=norm)
        if self.loss_scaling:
            self._update_scale(finite)
            tf.cond(finite, lambda: self._step(grads), lambda: tf.constant(False))
        else:
            self._step(grads)
        metrics = {f"{self.name}/grad_norm": norm}
        if self.loss_scaling:
            metrics[f"{self.name}/loss_scale"] = self.loss_scale
        return metrics

    def _update_scale(self, finite):
        # Halve on overflow; double after 2000 good steps in a row (Keras' default policy).
        def grow():
            self.good_steps.assign_add(1)
            done = self.good_steps >= 2000
            self.loss_scale.assign(tf.where(done, self.loss_scale * 2.0, self.loss_scale))
            self.good_steps.assign(tf.where(done, tf.zeros_like(self.good_steps), self.good_steps))

        def shrink():
            self.loss_scale.assign(tf.maximum(self.loss_scale / 2.0, 1.0))
            self.good_steps.assign(0)

        tf.cond(finite, grow, shrink)

    def _step(self, grads):
        self.step.assign_add(1)
        t = tf.cast(self.step, tf.float32)
        beta1_power, beta2_power = self.beta1**t, self.beta2**t
        for var, grad, m, v in zip(self.variables_, grads, self.m, self.v, strict=True):
            if self.weight_decay:
                var.assign(var * (1.0 - self.weight_decay))
            # One fused kernel per variable: the same update as the textbook Adam formula.
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=beta1_power,
                beta2_power=beta2_power,
                lr=tf.constant(self.lr, tf.float32),
                beta1=tf.constant(self.beta1, tf.float32),
                beta2=tf.constant(self.beta2, tf.float32),
                epsilon=tf.constant(self.eps, tf.float32),
                grad=grad,
            )
        return tf.constant(True)
