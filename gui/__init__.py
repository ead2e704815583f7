"""The window: PySide6 widgets, vispy canvases and pyqtgraph plots around a worker thread
that owns the Simulation. Nothing here touches tensors; it draws sim.Frame snapshots.

Load order: where Triton is installed (torch's CUDA builds bring it), the first torch
optimizer imports it, and its LLVM loaded after Mesa's (software or Intel/AMD OpenGL)
crashes the process; loaded first, both work. So it is loaded here, before any OpenGL
library; a CPU install, which has no Triton, loads nothing more."""

import importlib.util

if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401  (see above: before vispy and Qt's OpenGL)
