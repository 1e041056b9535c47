"""fast_render: auto decides from the GL renderer string; real dm_control renders on llvmpipe."""

import pytest

import envs
from envs import dmc, gl  # noqa: F401  (envs.dmc selects the GL back-end before dm_control)
from envs.bench import render_difference

CONFIG = {"action_repeat": 2, "time_limit": 0, "size": [64, 64], "camera": -1}


@pytest.mark.parametrize(
    "renderer, vendor, software",
    [
        ("llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa/X.org", True),
        ("softpipe", "Mesa/X.org", True),
        ("Software Rasterizer", "Mesa Project", True),
        ("Mesa OffScreen", "Brian Paul", True),
        ("Apple Software Renderer", "Apple Inc.", True),
        ("GDI Generic", "Microsoft Corporation", True),
        ("NVIDIA GeForce RTX 3090/PCIe/SSE2", "NVIDIA Corporation", False),
        ("NVIDIA A100-SXM4-40GB/PCIe/SSE2", "NVIDIA Corporation", False),
        ("Mesa Intel(R) UHD Graphics 620 (KBL GT2)", "Intel", False),
        ("AMD Radeon RX 6800 XT (navi21, LLVM 15.0.7, DRM 3.49, 6.2.0)", "AMD", False),
    ],
)
def test_software_renderer_is_recognised_from_its_strings(renderer, vendor, software):
    assert gl.is_software_renderer(renderer, vendor) is software


@pytest.mark.parametrize(
    "value, expected",
    [
        ("auto", None),
        ("AUTO", None),
        ("False", False),
        ("true", True),
        (True, True),
        (False, False),
    ],
)
def test_fast_render_values(value, expected):
    assert gl.parse_fast_render(value) is expected


def test_unknown_fast_render_value_names_it():
    with pytest.raises(ValueError, match="'fast'"):
        gl.parse_fast_render("fast")


def _quality(fast_render):
    env = envs.make("dmc_cartpole_swingup", 0, {**CONFIG, "fast_render": fast_render})
    quality = env.physics.model.vis.quality
    settings = (int(quality.shadowsize), int(quality.offsamples))
    env.reset()  # renders with those settings
    env.close()
    return settings


def test_auto_picks_fast_rendering_on_this_machines_llvmpipe():
    renderer, _ = gl.gl_renderer()
    assert "llvmpipe" in renderer  # this machine renders with Mesa's software rasteriser
    assert _quality("auto") == (512, 0)


def test_command_line_strings_force_either_setting():
    assert _quality("True") == (512, 0)
    assert _quality("False") == (2048, 4)  # dm_control's default quality


def test_fidelity_benchmark_compares_the_same_states():
    difference = render_difference("dmc_cartpole_swingup", decisions=3)
    # Cheaper shadows and no MSAA change a minority of pixels, mostly slightly.
    assert 0.0 < difference["changed_fraction"] < 0.5
    assert 0.0 < difference["mean"] < 5.0 and difference["max"] <= 255
