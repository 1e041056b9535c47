"""VSG: world models with variational sparse gating (RSSM, VSG, SVSG) in TensorFlow 2.

The learner never renders: training and evaluation envs run in worker processes that do not
import TensorFlow (``envs.workers``). The one path that renders MuJoCo next to TensorFlow, the
probe, arranges it in ``vsg.probe``.
"""
