"""The window: PySide6 widgets, vispy canvases and pyqtgraph plots around a worker thread
that owns the Simulation. Nothing here touches tensors; it draws sim.Frame snapshots.

Load order: torch's compiler stack is imported here, before any OpenGL library. Where Triton
is installed (torch's CUDA builds bring it), the first torch optimizer imports it, and its
LLVM loaded after Mesa's (software or Intel/AMD OpenGL) crashes the process; loaded first,
both work. A window or an export on such a machine would otherwise die at its first run."""

import torch._dynamo  # noqa: F401  (see above: before vispy and Qt's OpenGL)
