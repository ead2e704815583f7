"""The simulation: the paper's model (data, views, networks, losses, kernels, metrics) in
torch, with no Qt or vispy. `Simulation` owns a run; `Frame` is its numpy snapshot."""

from sim.frame import Frame
from sim.preset import Preset, PresetError, load_preset
from sim.simulation import Divergence, Simulation

__all__ = ["Divergence", "Frame", "Preset", "PresetError", "Simulation", "load_preset"]
