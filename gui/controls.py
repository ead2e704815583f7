"""The control panel: run bar (Play/Pause, Step, Reset, the iteration counter), preset
picker, kernel and side-by-side switch, training knobs (tau, step sizes, steps per frame,
view noise), network knobs (type, width, depth, activation, latent dimension, device; these
build a new network) and view toggles (arrows, trails). Each widget has a tooltip; the
ranges of the boxes are the preset model's declared limits (sim.preset.field_range), so a
control cannot take a value the model refuses. The panel follows a RunState (`follow`): set
from the run quietly, it never echoes the run's values back as edits; the window connects
the user's edits to the worker."""

from __future__ import annotations

from typing import Annotated

from pydantic import TypeAdapter, ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.colors import MUTED
from gui.edited_wheel import EditedWheel
from gui.number_box import CountBox, NumberBox
from gui.run_state import RunState, quiet
from sim.networks import ACTIVATIONS
from sim.preset import PRESET_DIR, LossSpec, NetworkSpec, Preset, Spec, TrainingSpec, ViewsSpec, field_range

KERNEL_ITEMS = (("NN kernel", "nn"), ("identity kernel", "identity"), ("infinite width", "limit"))
LOSS_NAMES = {"nt_xent": "NT-Xent", "generalized": "generalized (Gaussian)", "vicreg": "VICReg", "byol": "BYOL"}
KERNEL_MEANING = {
    "nt_xent": "H(theta) moves every embedded point by -H grad L: the NT-Xent gradient, mixed within clusters.",
    "generalized": "H(theta) moves every embedded point by -H grad L of the generalized Gaussian-similarity loss.",
    "vicreg": "H(theta) is the same network kernel; it multiplies VICReg's gradient (invariance, variance, "
    "covariance terms).",
    "byol": "H(theta) is the online network's kernel. The predictor and the moving-average target are outside "
    "it: the arrows show how the online embedding moves under the BYOL gradient.",
}


KERNEL_TEXT = {
    "identity": "The identity kernel: each embedded point is a free parameter and moves by its own -grad L; "
    "nothing is shared between points, so no cluster moves as one.",
    "limit": "The infinite-width kernel: H is fixed at its expectation over random networks (the NTK limit) "
    "and moves every embedded point by -H grad L.",
}


def kernel_text(kernel: str, loss: str) -> str:
    """What the chosen kernel does to the embedding, for this loss (the text under the selector)."""
    return KERNEL_TEXT.get(kernel, KERNEL_MEANING[loss])


def _accepts(model: type[Spec], name: str, value: float) -> bool:
    info = model.model_fields[name]
    try:
        TypeAdapter(Annotated[(info.annotation, *info.metadata)]).validate_python(value)
    except ValidationError:
        return False
    return True


def model_range(model: type[Spec], name: str, decimals: int = 0) -> tuple[float, float]:
    """The range a box with `decimals` decimals (0: an integer box) may show for field `name` of
    `model`: its declared limits (sim.preset.field_range), an open bound moved in by one step of
    the box so that both ends are values the model accepts."""
    low, high = field_range(model, name)
    step = 10.0**-decimals
    if not _accepts(model, name, low):
        low += step
    if not _accepts(model, name, high):
        high -= step
    return low, high


def _spin(model: type[Spec], name: str, decimals: int, step: float, tip: str, field: str) -> NumberBox:
    """A box for field `name` of `model` (called `field` in its refusals)."""
    box = NumberBox(field)
    box.setDecimals(decimals)
    box.setRange(*model_range(model, name, decimals))
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


def int_spin(field: str, low: int, high: int, tip: str, value: int | None = None, step: int = 1) -> CountBox:
    """An integer box that reports a value only when editing ends (not on every key); a number
    typed outside low..high is refused naming `field` (CountBox)."""
    box = CountBox(field)
    box.setRange(low, high)
    box.setSingleStep(step)
    if value is not None:
        box.setValue(value)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


class Combo(EditedWheel, QComboBox):
    """A combo box that the wheel changes only while it is being edited (gui/edited_wheel.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.take_wheel_focus_only()


def _combo(items: list[tuple[str, object]], tip: str) -> QComboBox:
    box = Combo()
    for text, data in items:
        box.addItem(text, data)
    box.setToolTip(tip)
    return box


def shipped_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


class Controls(QWidget):
    """All the knobs; `show_preset` sets them from a preset without emitting.
    `shipped_preset_chosen(name)`: the user picked a shipped preset in the list."""

    shipped_preset_chosen = Signal(str)
    refused = Signal(str)  # a typed number out of a box's range: one line naming the field (gui/number_box.py)
    taken = Signal()  # a box took a typed value (the same as before too): a refusal before it is answered

    def __init__(self, devices: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.opened_file: str | None = None  # the name of the file the run's preset is (show_opened_file)
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Run or pause the training (Space)")
        self.step = QPushButton("Step")
        self.step.setToolTip("Pause and take exactly one step (S)")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Restart from step 0 with the same seed, the current data and settings (R)")
        self.counter = QLabel("step 0")
        self.counter.setStyleSheet("font-size: 20px; font-weight: 600; font-family: monospace;")
        self.counter.setToolTip("Training steps taken so far")
        run_row = QHBoxLayout()
        for button in (self.play, self.step, self.reset):
            run_row.addWidget(button)

        self.preset = _combo([(name, name) for name in shipped_presets()], "Open a shipped preset (a new run)")
        self.preset.activated.connect(self._preset_activated)
        self.kernel = _combo(
            list(KERNEL_ITEMS),
            "Which kernel moves the embedding: NN (train the network), identity (move each point freely) or the "
            "fixed infinite-width limit. Switching keeps the embedding where it is (K cycles)",
        )
        self.side_by_side = QCheckBox("Side by side: NN | identity")
        self.side_by_side.setToolTip(
            "Run a copy of the current state with the other kernel next to the main run, in lockstep "
            "(the paper's Figure 5 rows): the identity kernel beside NN or infinite width, NN beside identity"
        )

        self.tau = _spin(LossSpec, "tau", 3, 0.05, "Temperature tau of the loss (takes effect at the next step)", "tau")
        self.lr = _spin(
            TrainingSpec, "lr", 5, 0.01, "Step size eta for the network (NN) and infinite-width kernels", "step size"
        )
        self.lr_points = _spin(
            TrainingSpec,
            "lr_points",
            5,
            0.01,
            "Step size for the identity kernel (moving Delta directly)",
            "step size (identity)",
        )
        self.noise = _spin(
            ViewsSpec, "noise", 3, 0.01, "Std sigma of the Gaussian noise that makes each view", "view noise sigma"
        )
        self.steps_per_frame = int_spin(
            "steps per frame", 0, 100000, "Steps between two drawn frames; 'max' runs as fast as it can"
        )
        self.steps_per_frame.setSpecialValueText("max")

        self.net_kind = _combo([("MLP", "mlp"), ("averaging (1 layer)", "averaging")], "Network type (rebuilds)")
        self.width = int_spin(
            "width", *map(int, model_range(NetworkSpec, "width")), "Hidden width (rebuilds the network)"
        )
        self.depth = int_spin(
            "depth", *map(int, model_range(NetworkSpec, "depth")), "Number of layers of the MLP (rebuilds the network)"
        )
        for box in (self.tau, self.lr, self.lr_points, self.noise, self.steps_per_frame, self.width, self.depth):
            box.refused.connect(self.refused)
            box.taken.connect(self.taken)
        self.activation = _combo([(a, a) for a in ACTIVATIONS], "Activation function (rebuilds the network)")
        self.latent = _combo([("circle S^1", 2), ("sphere S^2", 3)], "Latent space (rebuilds the network)")
        self.loss = _combo(
            [(text, kind) for kind, text in LOSS_NAMES.items()],
            "The loss: NT-Xent (SimCLR), the generalized Gaussian loss, VICReg or BYOL (restarts the run)",
        )
        self.kernel_meaning = QLabel(KERNEL_MEANING["nt_xent"])
        self.kernel_meaning.setWordWrap(True)
        self.kernel_meaning.setStyleSheet(f"color: {MUTED};")
        self.kernel_meaning.setToolTip("What the chosen kernel, the heatmap and the arrows mean for this loss")
        for box in (self.net_kind, self.loss, self.kernel):
            box.currentIndexChanged.connect(self._show_dependents)
        self.device = _combo([(d, d) for d in devices], "Where the simulation runs (rebuilds the run there)")
        self.rebuild_note = rebuild_note = QLabel("These build a new network and restart the run at step 0.")
        rebuild_note.setWordWrap(True)
        rebuild_note.setStyleSheet(f"color: {MUTED};")

        self.point_arrows = QCheckBox("Per-point velocity arrows")
        self.point_arrows.setToolTip("Each point's displacement in one step of its run's kernel, tangent to the sphere")
        self.cluster_arrows = QCheckBox("Per-cluster mean arrows")
        self.cluster_arrows.setToolTip("Each cluster's mean displacement, drawn at its mean direction")
        self.cluster_arrows.setChecked(True)
        self.trails = QCheckBox("Trails")
        self.trails.setToolTip("Fading trace of the last frames' positions (up to 4000 points)")

        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        run_layout.addWidget(self.counter)
        run_layout.addLayout(run_row)
        run_form = QFormLayout()
        run_form.addRow("Preset", self.preset)
        run_layout.addLayout(run_form)

        kernel_box = QGroupBox("Kernel")
        kernel_layout = QVBoxLayout(kernel_box)
        kernel_layout.addWidget(self.kernel)
        kernel_layout.addWidget(self.side_by_side)
        kernel_layout.addWidget(self.kernel_meaning)

        train_box = QGroupBox("Training")
        train_form = QFormLayout(train_box)
        train_form.addRow("tau", self.tau)
        train_form.addRow("step size", self.lr)
        train_form.addRow("step size (identity)", self.lr_points)
        train_form.addRow("view noise sigma", self.noise)
        train_form.addRow("steps per frame", self.steps_per_frame)

        net_box = QGroupBox("Network")
        net_layout = QVBoxLayout(net_box)
        net_form = QFormLayout()
        net_layout.addLayout(net_form)
        net_form.addRow("type", self.net_kind)
        net_form.addRow("width", self.width)
        net_form.addRow("depth", self.depth)
        net_form.addRow("activation", self.activation)
        net_form.addRow("latent", self.latent)
        net_form.addRow("loss", self.loss)
        net_form.addRow("device", self.device)
        net_layout.addWidget(rebuild_note)  # below the form: a form row gives wrapped text too little height

        view_box = QGroupBox("View")
        view_layout = QVBoxLayout(view_box)
        for box in (self.cluster_arrows, self.point_arrows, self.trails):
            view_layout.addWidget(box)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for box in (run_box, kernel_box, train_box, net_box, view_box):
            layout.addWidget(box)
        layout.addStretch(1)

    def network_widgets(self) -> dict[str, QWidget]:
        """Preset key -> widget for the knobs that rebuild the network."""
        return {
            "network.kind": self.net_kind,
            "network.width": self.width,
            "network.depth": self.depth,
            "network.activation": self.activation,
            "network.latent_dim": self.latent,
            "loss.kind": self.loss,
            "device": self.device,
        }

    def follow(self, state: RunState) -> None:
        """Show the run's settings, kernel, play state and step as `state` reports them."""
        state.settings.connect(self.show_preset)
        state.kernel.connect(self.show_kernel)
        state.playing.connect(self.show_playing)
        state.step.connect(lambda step: self.counter.setText(f"step {step}"))

    def show_preset(self, preset: Preset) -> None:
        """Set every knob from the preset, emitting nothing; a box with typed text not yet
        committed keeps it."""
        values = {
            self.tau: preset.loss.tau,
            self.lr: preset.training.lr,
            self.lr_points: preset.training.lr_points,
            self.noise: preset.views.noise,
            self.width: preset.network.width,
            self.depth: preset.network.depth,
        }
        choices = {
            self.net_kind: preset.network.kind,
            self.activation: preset.network.activation,
            self.latent: preset.network.latent_dim,
            self.loss: preset.loss.kind,
            self.device: preset.device,
        }
        with quiet(*values, *choices):
            for box, value in values.items():
                if not box.being_edited():
                    box.setValue(value)
            for box, value in choices.items():
                i = box.findData(value)
                if i < 0 and box is self.device:
                    box.addItem(str(value), value)
                    i = box.count() - 1
                if i >= 0:
                    box.setCurrentIndex(i)
        self._show_preset_name(preset.name, self.opened_file)
        self._show_dependents()

    def _show_dependents(self) -> None:
        """What follows from the network type, loss and kernel shown: depth only for an MLP,
        tau only for the losses that have one, the text under the kernel selector."""
        loss = self.loss.currentData()
        self.depth.setEnabled(self.net_kind.currentData() == "mlp")
        self.tau.setEnabled(loss in ("nt_xent", "generalized"))
        self.kernel_meaning.setText(kernel_text(self.kernel.currentData(), loss))

    def _show_preset_name(self, name: str, file: str | None = None) -> None:
        """Select the shipped preset `name`; a preset opened from a file (`file`, its name), or
        of a name no shipped preset has, gets a last entry of its own (which opens nothing)."""
        box = self.preset
        with quiet(box):
            if box.itemData(box.count() - 1) is None:
                box.removeItem(box.count() - 1)
            i = box.findData(name) if file is None else -1
            if i < 0:
                box.addItem(f"{name} ({file or 'opened file'})", None)
                box.setItemData(
                    box.count() - 1, "The preset of this run, opened from a file", Qt.ItemDataRole.ToolTipRole
                )
                i = box.count() - 1
            box.setCurrentIndex(i)

    def show_opened_file(self, name: str, file: str | None) -> None:
        """The run's preset `name` is the file named `file` (opened or saved; None: no file):
        its own entry, even when a shipped preset has the same name (a saved copy of fig5-2d)."""
        self.opened_file = file
        self._show_preset_name(name, file)

    def _preset_activated(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name is not None:
            self.shipped_preset_chosen.emit(name)

    def show_kernel(self, kernel: str) -> None:
        with quiet(self.kernel):
            self.kernel.setCurrentIndex(self.kernel.findData(kernel))
        self._show_dependents()

    def show_playing(self, playing: bool) -> None:
        with quiet(self.play):
            self.play.setChecked(playing)
        self.play.setText("Pause" if playing else "Play")

    def show_side_by_side(self, on: bool) -> None:
        with quiet(self.side_by_side):
            self.side_by_side.setChecked(on)
