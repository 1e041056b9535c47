"""The contract every latent dynamics variant implements, and what the variants share.

A state is a dict of tensors with a leading batch axis ([B, ...]); sequences add a time axis
([B, T, ...]). Every state carries `stoch` (the latent sample) and the latent statistics
(`stat_keys`); a variant with an update gate also carries `gate` and `gate_prob` ([B, G]: the
gate actually used and its probability; for the soft GRU they are equal), so all gated
variants can be compared on one chart.

A variant implements `initial`, `img_step`, `obs_step`, `features` and `transition` (and
may implement `transition_jacobian`), and sets the attributes declared on `LatentDynamics`;
`observe`, `imagine`, `kl_loss`, `gate_loss` and `gates` are shared. The world model, the
agent, the logger, the probe and the benchmarks use nothing else.
"""

import tensorflow as tf

from vsg.config import ConfigError
from vsg.distributions import bernoulli_kl


def _swap(x):
    """[B, T, ...] <-> [T, B, ...]."""
    return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))


def tree_map(fn, *trees):
    return tf.nest.map_structure(fn, *trees)


class LatentDynamics(tf.Module):
    """Base class: a latent state-space model filtered with a posterior.

    Declared by every variant (class attributes, or set in `__init__`):

    - `feature_size` (int): the width of `features(state)`.
    - `transition_inputs` (dict): {symbol: state key} of the state entries `transition` reads,
      in order, e.g. {"h": "deter", "z": "stoch"}; the probe differentiates with respect to
      them (flattened) and the action.
    - `state_key` (str) and `state_size` (int): the state entry `transition` updates, as the
      probe differentiates it, and its flattened width.
    - `has_gates` (class attribute, bool): the state carries an update gate; `gate_size` (int,
      > 0 exactly when it has gates) is the gate's width and `stochastic_gate` (bool) says
      whether the gate is a binary sample (VSG) rather than its probability (soft GRU).
    - `gate_covers_latents` (class attribute, bool): the gate has one entry per stochastic
      latent variable, so the KL can be masked by it (`dyn_kl_mask`).

    Set here: `latent` (`vsg.distributions` latent), `stat_keys` (its statistics' keys in
    every state), `rng` and `compute_dtype`.
    """

    feature_size: int
    transition_inputs: dict
    state_key: str
    state_size: int
    has_gates = False
    gate_size = 0
    stochastic_gate = False
    gate_covers_latents = False

    def __init__(self, latent, rng, dtype, name=None):
        super().__init__(name=name)
        self.latent = latent
        self.stat_keys = tuple(latent.initial(1, tf.float32)[0])
        self.rng = rng
        self.compute_dtype = dtype

    @classmethod
    def check_config(cls, config):
        """Raises ConfigError (naming the key) for options this variant cannot honour."""
        if config.dyn_gate_scale > 0 and not cls.has_gates:
            raise ConfigError(
                f"dyn_gate_scale {config.dyn_gate_scale} needs a variant with gates; "
                f"model_type {config.model_type} has none (set it to 0)"
            )
        if config.dyn_kl_mask and not cls.gate_covers_latents:
            raise ConfigError(
                f"dyn_kl_mask needs a gate over the latents, which model_type "
                f"{config.model_type} does not have"
            )

    # --- implemented by each variant -------------------------------------------------
    def initial(self, batch_size):
        """The state before the first observation of an episode."""
        raise NotImplementedError

    def img_step(self, prev, action, sample=True):
        """Prior step p(s_t | s_{t-1}, a_t): returns the prior state [B, ...]."""
        raise NotImplementedError

    def obs_step(self, prev, action, embed, is_first, sample=True):
        """Posterior step q(s_t | s_{t-1}, a_t, o_t): returns (post, prior) states."""
        raise NotImplementedError

    def features(self, state):
        """What heads, actor and critic see: [..., feature_size]."""
        raise NotImplementedError

    def transition(self, prev, action, gate=None):
        """Deterministic prior transition for the Jacobian probe.

        Returns a dict of float tensors (the next `state_key` entry and the prior statistics)
        as a function of the `transition_inputs` entries of `prev` and `action` only: no
        sampling. `gate` [B, gate_size] replaces the update gate of a gated variant (the
        recorded gate for the realised Jacobian, or the probability for the expected one);
        None uses the probability. Variants without gates ignore it.
        """
        raise NotImplementedError

    def transition_jacobian(self, prev, action, gate=None, rows=None):
        """Optional closed form of the Jacobian the probe takes of `transition`.

        prev, action and gate as for `transition` (a given gate is a constant; None means the
        probability, differentiated); rows: int32 [R] output indices (None: all). Returns
        float32 [B, R or state_size, n_in]: the derivative of the flattened `state_key` entry
        of `transition` with respect to the flattened `transition_inputs` entries, in their
        order, then the action (n_in = their widths + the action size).

        This base returns None: no closed form, and the probe differentiates `transition`
        (reverse mode, one pass back through the step per row). A variant overrides it where
        the Jacobian is much cheaper written out (RSSM); tests/test_probe_jacobian.py checks
        one against autodiff.
        """
        del prev, action, gate, rows
        return None

    # --- shared --------------------------------------------------------------------
    def reset(self, prev, action, is_first):
        """Replaces state and action by the initial ones where `is_first` [B] is set."""
        mask = tf.cast(is_first, self.compute_dtype)[:, None]
        init = self.initial(tf.shape(action)[0])

        def blend(old, new):
            m = tf.reshape(mask, [-1] + [1] * (old.shape.rank - 1))
            return m * tf.cast(new, old.dtype) + (1.0 - m) * old

        prev = {key: blend(prev[key], init[key]) for key in prev}
        return prev, (1.0 - mask) * tf.cast(action, self.compute_dtype)

    def observe(self, embed, action, is_first, state=None):
        """Filters a sequence: embed [B, T, E], action [B, T, A], is_first [B, T].

        Returns (post, prior), each a dict of [B, T, ...].
        """
        if state is None:
            state = self.initial(tf.shape(action)[0])
        inputs = (_swap(action), _swap(embed), _swap(is_first))

        def step(carry, inp):
            return self.obs_step(carry[0], *inp)

        post, prior = tf.scan(step, inputs, (state, state))
        return tree_map(_swap, post), tree_map(_swap, prior)

    def imagine_actions(self, action, state):
        """Open-loop prior rollout with given actions [B, T, A] from `state`: [B, T, ...]."""

        def step(prev, act):
            return self.img_step(prev, act)

        prior = tf.scan(step, _swap(action), state)
        return tree_map(_swap, prior)

    def imagine(self, policy, start, horizon):
        """Rolls the prior forward from `start` choosing actions with `policy`.

        `policy(features) -> action [N, A]`; `start` states are [N, ...]. Returns the states
        s_0 .. s_{H-1} [N, H, ...] with s_0 = start, and the actions a_0 .. a_{H-2}
        [N, H - 1, A], where a_k is chosen in s_k and leads to s_{k+1}.
        """
        states, actions = [start], []
        for _ in range(horizon - 1):
            action = policy(tf.stop_gradient(self.features(states[-1])))
            states.append(self.img_step(states[-1], action))
            actions.append(action)
        stacked = tree_map(lambda *xs: tf.stack(xs, 1), *states)
        return stacked, tf.stack(actions, 1)

    def kl_terms(self, post, prior, mask_by_gate):
        """Per-step KL(post || sg(prior)) and KL(sg(post) || prior), each [B, T], float32."""
        sg = tf.stop_gradient
        post_stats = {key: post[key] for key in self.stat_keys}
        prior_stats = {key: prior[key] for key in self.stat_keys}
        lhs = self.latent.kl(post_stats, tree_map(sg, prior_stats))
        rhs = self.latent.kl(tree_map(sg, post_stats), prior_stats)
        if mask_by_gate:
            gate = tf.cast(post["gate"], tf.float32)
            lhs, rhs = lhs * gate, rhs * gate
        return tf.reduce_sum(lhs, -1), tf.reduce_sum(rhs, -1)

    def kl_loss(self, post, prior, balance, free, scale, mask_by_gate=False):
        """DreamerV2's balanced KL (Hafner et al., 2021), free nats on the batch/time mean:

            scale * ((1 - balance) * max(mean KL(post || sg(prior)), free)
                     + balance * max(mean KL(sg(post) || prior), free))

        Returns (loss scalar, per-step KL(post || prior) [B, T]).
        """
        lhs, rhs = self.kl_terms(post, prior, mask_by_gate)
        lhs_mean, rhs_mean = tf.reduce_mean(lhs), tf.reduce_mean(rhs)
        loss = (1.0 - balance) * tf.maximum(lhs_mean, free)
        loss += balance * tf.maximum(rhs_mean, free)
        return scale * loss, lhs

    def gate_loss(self, post, prior_prob, free, scale):
        """lambda * max(mean_{B,T} sum_dims KL(Bern(p) || Bern(prior)), free): (loss, kl).

        Only for variants with gates."""
        kl = tf.reduce_mean(tf.reduce_sum(bernoulli_kl(post["gate_prob"], prior_prob), -1))
        return scale * tf.maximum(kl, free), kl

    def gates(self, state):
        """(gate used, its probability), each [..., gate_size], of a state or a sequence of
        states (tensors or NumPy arrays); None for a variant without gates."""
        if not self.has_gates:
            return None
        return state["gate"], state["gate_prob"]
