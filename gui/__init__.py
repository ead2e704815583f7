"""The window: PySide6 widgets, vispy canvases and pyqtgraph plots around a worker thread
that owns the Simulation. Nothing here touches tensors; it draws sim.Frame snapshots."""
