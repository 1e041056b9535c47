"""VSG: world models with variational sparse gating (RSSM, VSG, SVSG) in TensorFlow 2.

Importing this package before TensorFlow makes MuJoCo rendering safe in the same process:
TensorFlow 2.21 loads its shared libraries with global symbol visibility, and their LLVM
symbols clash with Mesa's (EGL and OSMesa alike), so the first render segfaults. Blocking the
module that requests the global flag makes TensorFlow load its libraries privately. This is
an import-time choice, not a patch of TensorFlow's behaviour.

The order matters twice: import `vsg`, then TensorFlow, then dm_control (or anything that
loads the GL libraries). Importing TensorFlow after the GL libraries still crashes.
"""

import sys
import warnings

_GLOBAL_FLAGS_MODULE = "tensorflow.python.pywrap_dlopen_global_flags"

if "tensorflow" in sys.modules:
    if _GLOBAL_FLAGS_MODULE in sys.modules and sys.modules[_GLOBAL_FLAGS_MODULE] is not None:
        warnings.warn(
            "TensorFlow was imported before vsg; MuJoCo rendering in this process may "
            "segfault. Import vsg (or envs) first.",
            stacklevel=2,
        )
else:
    sys.modules[_GLOBAL_FLAGS_MODULE] = None
