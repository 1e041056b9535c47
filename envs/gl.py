"""Headless OpenGL back-end selection for MuJoCo rendering.

dm_control and mujoco read ``MUJOCO_GL`` once, when they are first imported, and their default
(glfw) needs a display. So :func:`setup` must run before ``dm_control`` is imported; ``envs.dmc``
calls it at the top of the module. A value the user exported is respected if it can render
(egl or osmesa whose libraries load, or glfw with a display); any other is a `BackendError`.

:func:`fast_render_enabled` resolves the ``fast_render`` setting; ``auto`` asks the GL
renderer whether it is a software rasteriser.
"""

import ctypes
import ctypes.util
import functools
import os
import sys
import warnings
from collections.abc import Mapping

# Each back-end needs one library from every group to load. EGL goes through libglvnd, which
# needs a vendor library (Mesa or NVIDIA) and a GL library (PyOpenGL tries libOpenGL, then libGL).
_EGL_LIBS = (
    ("libEGL.so.1",),
    ("libEGL_mesa.so.0", "libEGL_nvidia.so.0"),
    ("libOpenGL.so.0", "libGL.so.1"),
)
_OSMESA_LIBS = (("libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"),)

INSTALL_HINT = (
    "install the EGL libraries (apt-get install -y libegl1 libopengl0 libgl1-mesa-dri) or "
    "OSMesa (apt-get install -y libosmesa6), or set MUJOCO_GL yourself"
)

HEADLESS = ("egl", "osmesa")

_chosen: str | None = None


class BackendError(ValueError):
    """No usable OpenGL back-end for rendering; the one-line message says what to do."""


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def libraries_load(groups: tuple[tuple[str, ...], ...]) -> bool:
    """Return True if, for every group, at least one of its shared libraries can be loaded."""
    return all(any(_loads(name) for name in group) for group in groups)


def _osmesa_groups() -> tuple[tuple[str, ...], ...]:
    # find_library also covers distributions that ship a different soname.
    found = ctypes.util.find_library("OSMesa")
    if found is None:
        return _OSMESA_LIBS
    return ((found, *_OSMESA_LIBS[0]),)


def available_backend() -> str | None:
    """Return the first headless back-end whose libraries load ('egl', then 'osmesa'), or None."""
    if libraries_load(_EGL_LIBS):
        return "egl"
    if libraries_load(_osmesa_groups()):
        return "osmesa"
    return None


def check_user_backend(value: str, environ: Mapping[str, str]) -> None:
    """Raise BackendError naming ``value`` if the user's ``MUJOCO_GL`` cannot render here."""
    if value == "glfw":
        if not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
            raise BackendError(
                "MUJOCO_GL=glfw needs a display and none is set (no DISPLAY); unset "
                "MUJOCO_GL to render headless, or set it to egl or osmesa."
            )
        return
    if value not in HEADLESS:
        raise BackendError(
            f"MUJOCO_GL={value!r} cannot render pixels: use egl, osmesa or (with a display) "
            "glfw, or unset it to choose automatically."
        )
    groups = _EGL_LIBS if value == "egl" else _osmesa_groups()
    if not libraries_load(groups):
        raise BackendError(
            f"MUJOCO_GL={value} is set but its libraries do not load; install them or unset "
            "MUJOCO_GL to choose automatically."
        )


def choose_backend(environ: Mapping[str, str]) -> tuple[str, bool]:
    """Decide the back-end for ``environ`` without changing anything.

    Returns ``(backend, user_set)``. Raises BackendError when the user's ``MUJOCO_GL`` cannot
    render, or, naming the packages to install, when the user set nothing and no headless
    back-end can be loaded.
    """
    user_value = environ.get("MUJOCO_GL", "")
    if user_value:
        check_user_backend(user_value, environ)
        return user_value, True
    backend = available_backend()
    if backend is None:
        raise BackendError(f"No headless OpenGL back-end for MuJoCo rendering: {INSTALL_HINT}.")
    return backend, False


def setup() -> str:
    """Export ``MUJOCO_GL`` (and ``PYOPENGL_PLATFORM`` for osmesa) and print the choice once.

    Idempotent; returns the back-end name.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    backend, user_set = choose_backend(os.environ)
    if not user_set and "dm_control._render" in sys.modules:
        # Too late: dm_control already picked its back-end at import time.
        warnings.warn(
            "dm_control was imported before envs.gl.setup(); MUJOCO_GL is ignored now.",
            stacklevel=2,
        )
    os.environ["MUJOCO_GL"] = backend
    if backend == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    how = "set by user" if user_set else "auto-selected, its libraries load"
    print(f"envs.gl: MUJOCO_GL={backend} ({how})", flush=True)
    _chosen = backend
    return backend


# Substrings (lower case) of the GL renderer or vendor string of software rasterisers: Mesa's
# llvmpipe, softpipe and swrast ("Software Rasterizer"; old OSMesa says "Mesa OffScreen"),
# Apple's ("Apple Software Renderer") and Microsoft's ("GDI Generic").
_SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software", "offscreen", "gdi generic")
FAST_RENDER_CHOICES = ("auto", "true", "false")


def is_software_renderer(renderer: str, vendor: str = "") -> bool:
    """True if the GL ``renderer``/``vendor`` strings name a CPU (software) rasteriser."""
    text = f"{renderer} {vendor}".lower()
    return any(name in text for name in _SOFTWARE_RENDERERS)


def parse_fast_render(value: bool | str) -> bool | None:
    """The ``fast_render`` setting as True / False, or None for ``auto``; ValueError otherwise.

    Accepts booleans and the strings auto, true and false in any case (``--fast_render False``).
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in FAST_RENDER_CHOICES:
        raise ValueError(f"fast_render must be auto, true or false, got '{value}'")
    return None if text == "auto" else text == "true"


def gl_renderer() -> tuple[str, str]:
    """``(renderer, vendor)`` strings of a throwaway GL context of the chosen back-end.

    Uses MuJoCo's own context class: dm_control creates its context only at the first render,
    after the render-quality settings must already be fixed.
    """
    setup()
    import mujoco
    from OpenGL import GL

    context = mujoco.GLContext(1, 1)
    try:
        context.make_current()
        strings = GL.glGetString(GL.GL_RENDERER), GL.glGetString(GL.GL_VENDOR)
    finally:
        context.free()
    return tuple(text.decode(errors="replace") if text else "" for text in strings)


@functools.cache
def auto_fast_render() -> bool:
    """``fast_render: auto``, decided and printed once per process from :func:`gl_renderer`.

    On for a software rasteriser, where the cheaper settings render 3-4x faster; off for
    hardware GL, which renders dm_control's default quality cheaply.
    """
    renderer, vendor = gl_renderer()
    enabled = is_software_renderer(renderer, vendor)
    kind = "a software rasteriser" if enabled else "hardware"
    print(
        f"envs.gl: fast_render=auto -> {'on' if enabled else 'off'} "
        f"(GL renderer '{renderer}', vendor '{vendor}': {kind})",
        flush=True,
    )
    return enabled


def fast_render_enabled(value: bool | str) -> bool:
    """Whether to use the cheaper render settings (512 shadow map, no MSAA, small buffer)."""
    setting = parse_fast_render(value)
    return auto_fast_render() if setting is None else setting
