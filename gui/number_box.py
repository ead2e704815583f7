"""Number boxes that refuse out-of-range input out loud. Qt's spin boxes drop a key that would
take the text out of range, so typing 5000 into a box that ends at 100 gave 500 and -1 gave 1,
each applied to the run without a word. These boxes let such a number be typed; when it is
committed (Return, or focus leaving) the box keeps its value and emits `refused` with one line
naming the field, the range and the number typed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QSpinBox


def _typed_number(box: QAbstractSpinBox, text: str) -> float | None:
    """The number `text` holds without the box's prefix and suffix, or None."""
    body = text.removeprefix(box.prefix()).removesuffix(box.suffix()).strip()
    try:
        return float(body)
    except ValueError:
        return None


def _outside(box: QDoubleSpinBox | QSpinBox, text: str) -> float | None:
    """The number typed when it lies outside the box's range, else None."""
    value = _typed_number(box, text)
    if value is None or box.minimum() <= value <= box.maximum():
        return None
    return value


def _validate(box: QDoubleSpinBox | QSpinBox, state: tuple, text: str, pos: int) -> tuple:
    """Qt's verdict on `text`, with a number outside the range (or its sign, as typed first)
    let through as unfinished."""
    sign = text.removeprefix(box.prefix()).removesuffix(box.suffix()).strip() in ("-", "+", "-.", "+.")
    if state[0] == QValidator.State.Invalid and (sign or _outside(box, text) is not None):
        return QValidator.State.Intermediate, text, pos
    return state


def _refusal(box: QDoubleSpinBox | QSpinBox, field: str, text: str) -> str | None:
    """The line that refuses `text`, or None when it is not an out-of-range number."""
    value = _outside(box, text)
    if value is None:
        return None
    kept = box.value()
    shown = box.specialValueText() if kept == box.minimum() and box.specialValueText() else _plain(box, kept)
    typed = text.removeprefix(box.prefix()).removesuffix(box.suffix()).strip()
    low, high = _plain(box, box.minimum()), _plain(box, box.maximum())
    return f"{field}: expected a number from {low} to {high}, got {typed}; kept {shown}"


def _plain(box: QDoubleSpinBox | QSpinBox, value: float) -> str:
    """`value` as the box writes it, without trailing zeros (100, 0.00001, 0.3)."""
    text = box.textFromValue(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _refusing(base: type[QDoubleSpinBox | QSpinBox], doc: str) -> type:
    """`base` that lets an out-of-range number be typed and refuses it, naming `field`, on commit."""

    class Box(base):
        refused = Signal(str)

        def __init__(self, field: str):
            super().__init__()
            self.field = field

        def validate(self, text: str, pos: int) -> object:
            return _validate(self, super().validate(text, pos), text, pos)

        def fixup(self, text: str) -> str:
            message = _refusal(self, self.field, text)
            if message:
                self.refused.emit(message)
            return super().fixup(text)

    Box.__doc__ = doc
    return Box


NumberBox = _refusing(QDoubleSpinBox, "A QDoubleSpinBox for preset field `field` (named in its refusals).")
CountBox = _refusing(QSpinBox, "A QSpinBox for `field` (named in its refusals).")
