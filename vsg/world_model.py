"""World model: encoder, latent dynamics, decoder and reward/discount heads.

The losses are DreamerV2's (Hafner et al., ICLR 2021): log-likelihoods of image, reward and
discount plus the balanced KL of `LatentDynamics.kl_loss`; VSG and SVSG add the gate KL of
`LatentDynamics.gate_loss` (Jain et al., NeurIPS 2022).
"""

import tensorflow as tf

from vsg import nn
from vsg.distributions import bernoulli_nll, normal_nll
from vsg.dynamics import make_dynamics
from vsg.networks import ConvDecoder, ConvEncoder
from vsg.optim import Adam


def preprocess_image(image):
    """uint8 [..., H, W, 3] -> float32 in [-0.5, 0.5]."""
    return tf.cast(image, tf.float32) / 255.0 - 0.5


def gate_statistics(gate):
    """Open-gate statistics of a gate sequence [B, T, G] (soft or hard), as metrics."""
    gate = tf.cast(gate, tf.float32)
    open_frac = tf.reduce_mean(gate, -1)
    updates = tf.reduce_sum(gate, 1)
    return {
        "gate/open_frac_mean": tf.reduce_mean(open_frac),
        "gate/open_frac_std": tf.math.reduce_std(open_frac),
        "gate/updates_per_dim_mean": tf.reduce_mean(updates),
        "gate/updates_per_dim_std": tf.math.reduce_std(updates),
    }


class WorldModel(tf.Module):
    """Learns p(o, r, gamma | s) and the latent dynamics from replayed sequences."""

    def __init__(self, config, action_size, rng, dtype=tf.float32):
        super().__init__(name="world_model")
        self.config = config
        self.encoder = ConvEncoder(config.cnn_depth, dtype)
        self.dynamics = make_dynamics(config, action_size, self.encoder.embed_size, rng, dtype)
        feat = self.dynamics.feature_size
        self.decoder = ConvDecoder(feat, config.cnn_depth, dtype)
        layers, units = config.reward_layers, config.units
        self.reward = nn.MLP(feat, 1, layers, units, dtype, name="reward")
        self.discount = None
        if config.pred_discount:
            self.discount = nn.MLP(feat, 1, config.discount_layers, units, dtype, name="discount")
        self.opt = Adam(
            "model",
            self.trainable_variables,
            config.model_lr,
            config.opt_eps,
            config.grad_clip,
            config.weight_decay,
            loss_scaling=dtype == tf.float16,
        )

    def _head_input(self, feat, head):
        return feat if head in self.config.grad_heads else tf.stop_gradient(feat)

    def loss(self, data):
        """Returns (total loss, posterior states [B, T, ...], metrics)."""
        c = self.config
        embed = self.encoder(preprocess_image(data["image"]))
        post, prior = self.dynamics.observe(embed, data["action"], data["is_first"])
        kl_loss, kl = self.dynamics.kl_loss(
            post, prior, c.kl_balance, c.kl_free, c.kl_scale, c.dyn_kl_mask
        )
        feat = self.dynamics.features(post)
        image = self.decoder(self._head_input(feat, "image"))
        losses = {
            "image": tf.reduce_mean(normal_nll(preprocess_image(data["image"]), image, 3)),
            "reward": tf.reduce_mean(
                normal_nll(data["reward"], self.reward(self._head_input(feat, "reward"))[..., 0], 0)
            ),
        }
        total = losses["image"] + c.reward_scale * losses["reward"] + kl_loss
        if self.discount is not None:
            target = c.discount * (1.0 - tf.cast(data["is_terminal"], tf.float32))
            logits = self.discount(self._head_input(feat, "discount"))[..., 0]
            losses["discount"] = tf.reduce_mean(bernoulli_nll(target, logits))
            total += c.discount_scale * losses["discount"]
        metrics = {f"model/{name}_loss": value for name, value in losses.items()}
        if c.dyn_gate_scale > 0:
            gate_loss, gate_kl = self.dynamics.gate_loss(
                post, c.dyn_gate_prior, c.dyn_gate_free, c.dyn_gate_scale
            )
            total += gate_loss
            metrics.update({"gate/kl": gate_kl, "gate/loss": gate_loss})
        metrics.update(self._latent_metrics(post, prior, kl, kl_loss, total))
        return total, post, metrics

    def _latent_metrics(self, post, prior, kl, kl_loss, total):
        latent = self.dynamics.latent
        stats = self.dynamics.stat_keys
        metrics = {
            "model/loss": total,
            "model/kl": tf.reduce_mean(kl),
            "model/kl_loss": kl_loss,
            "model/prior_ent": tf.reduce_mean(
                tf.reduce_sum(latent.entropy({k: prior[k] for k in stats}), -1)
            ),
            "model/post_ent": tf.reduce_mean(
                tf.reduce_sum(latent.entropy({k: post[k] for k in stats}), -1)
            ),
        }
        if self.dynamics.has_gates:
            metrics.update(gate_statistics(self.dynamics.gates(post)[0]))
        return metrics

    def train(self, data):
        """One gradient step on a batch of [B, T] sequences; returns (post, metrics)."""
        with tf.GradientTape() as tape:
            total, post, metrics = self.loss(data)
            scaled = self.opt.scale(total)
        metrics.update(self.opt.apply(tape, scaled))
        return tf.nest.map_structure(tf.stop_gradient, post), metrics

    def open_loop_video(self, data, context=5, sequences=6):
        """Truth, open-loop model prediction and error stacked vertically.

        Observes `context` frames, then imagines the rest with the recorded actions.
        Returns (video [N, T, 3 * 64, 64, 3] float in [0, 1], gates [N, T, G] or None for
        dynamics without gates).
        """
        data = {key: value[:sequences] for key, value in data.items()}
        embed = self.encoder(preprocess_image(data["image"][:, :context]))
        post, _ = self.dynamics.observe(
            embed, data["action"][:, :context], data["is_first"][:, :context]
        )
        recon = self.decoder(self.dynamics.features(post))
        last = {key: value[:, -1] for key, value in post.items()}
        prior = self.dynamics.imagine_actions(data["action"][:, context:], last)
        openl = self.decoder(self.dynamics.features(prior))
        model = tf.clip_by_value(tf.cast(tf.concat([recon, openl], 1), tf.float32) + 0.5, 0, 1)
        truth = tf.cast(data["image"], tf.float32) / 255.0
        error = (model - truth + 1.0) / 2.0
        video = tf.concat([truth, model, error], 2)
        if not self.dynamics.has_gates:
            return video, None
        gates = tf.concat([self.dynamics.gates(post)[0], self.dynamics.gates(prior)[0]], 1)
        return video, tf.cast(gates, tf.float32)
