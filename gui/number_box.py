"""Number boxes that read what is typed as a person means it and refuse the rest out loud.
Qt's spin boxes drop a key that would make the text invalid or out of range, so typing 5000
into a box that ends at 100 gave 500, -1 gave 1, 1e-9 gave 19 and 64.5 in a whole-number box
gave 645, each applied to the run without a word. These boxes take every key; when the text is
committed (Return, or focus leaving) they take a number in range (1e-4 and 2.5E3 as well as
0.0001; a decimal comma, 1,5, as 1.5) and otherwise keep their value and emit `refused` with
one line naming the field, what was expected and what was typed. The wheel changes only the box
being edited (gui/edited_wheel.py)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from gui.edited_wheel import EditedWheel


def _body(box: QDoubleSpinBox | QSpinBox, text: str) -> str:
    """`text` without the box's prefix and suffix."""
    return text.removeprefix(box.prefix()).removesuffix(box.suffix()).strip()


def _number(box: QDoubleSpinBox | QSpinBox, text: str) -> float | None:
    """The finite number `text` holds (a whole number in an integer box), or None. In a decimal
    box one comma and no point is a decimal point (1,5), unless it could be a thousands
    separator (1,000: refused as unclear; 0,450 is 0.45); a whole-number box takes no comma, and
    no box takes Python's digit separators (1_0)."""
    body = _body(box, text)
    if "_" in body:
        return None
    if "," in body:
        whole, _, fraction = body.partition(",")
        thousands = len(fraction) == 3 and whole.lstrip("+-").strip("0") != ""
        if isinstance(box, QSpinBox) or "," in fraction or "." in body or thousands:
            return None
        body = f"{whole}.{fraction}"
    try:
        value = float(body)
    except ValueError:
        return None
    if not math.isfinite(value) or (isinstance(box, QSpinBox) and not value.is_integer()):
        return None
    return value


def _special(box: QDoubleSpinBox | QSpinBox, text: str) -> bool:
    """Whether `text` is the box's special value text (shown for its minimum, e.g. "max")."""
    return bool(box.specialValueText()) and text.strip() == box.specialValueText()


def _too_fine(box: QDoubleSpinBox | QSpinBox, value: float) -> bool:
    """Whether `value` has more decimals than the box holds (a box of 3 decimals showed 0.002
    for a typed 0.0015)."""
    if isinstance(box, QSpinBox):
        return False
    return abs(round(value, box.decimals()) - value) > 1e-9 * max(1.0, abs(value))


def _validate(box: QDoubleSpinBox | QSpinBox, text: str, pos: int) -> tuple:
    """Acceptable for a number in range that the box holds exactly (or the special value
    text); anything else is unfinished, so that no key is dropped: what is committed
    unfinished is refused."""
    value = _number(box, text)
    if _special(box, text) or (
        value is not None and box.minimum() <= value <= box.maximum() and not _too_fine(box, value)
    ):
        return QValidator.State.Acceptable, text, pos
    return QValidator.State.Intermediate, text, pos


def _refusal(box: QDoubleSpinBox | QSpinBox, field: str, text: str) -> str:
    """The line that refuses `text` (not a number in the box's range)."""
    kept = box.value()
    shown = box.specialValueText() if kept == box.minimum() and box.specialValueText() else _plain(box, kept)
    typed = _body(box, text) or "nothing"
    low, high = _plain(box, box.minimum()), _plain(box, box.maximum())
    kind = "a whole number" if isinstance(box, QSpinBox) else "a number"
    value = _number(box, text)
    if value is not None and box.minimum() <= value <= box.maximum():  # in range, finer than the box
        kind = f"a number of at most {box.decimals()} decimals"
    return f"{field}: expected {kind} from {low} to {high}, got {typed}; kept {shown}"


def _shown(box: QDoubleSpinBox | QSpinBox) -> str:
    """The text the box shows for its value (its special value text at its minimum)."""
    if box.specialValueText() and box.value() == box.minimum():
        return box.specialValueText()
    return box.prefix() + box.textFromValue(box.value()) + box.suffix()


def _plain(box: QDoubleSpinBox | QSpinBox, value: float) -> str:
    """`value` as the box writes it, without trailing zeros (100, 0.00001, 0.3)."""
    text = box.textFromValue(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _refusing(base: type[QDoubleSpinBox | QSpinBox], doc: str) -> type:
    """`base` that takes any key and, on commit, a number in range or a refusal naming `field`."""

    class Box(EditedWheel, base):
        refused = Signal(str)
        taken = Signal()  # a committed text was taken (Return, or focus leaving typed text)

        def __init__(self, field: str):
            super().__init__()
            self.field = field
            self.take_wheel_focus_only()

        def validate(self, text: str, pos: int) -> object:
            return _validate(self, text, pos)

        def valueFromText(self, text: str) -> float | int:
            if _special(self, text):
                return self.minimum()
            value = _number(self, text)
            if value is None:
                return self.value()
            return int(value) if isinstance(self, QSpinBox) else value

        def fixup(self, text: str) -> str:
            if _validate(self, text, 0)[0] != QValidator.State.Acceptable:
                self.refused.emit(_refusal(self, self.field, text))
            return text

        def being_edited(self) -> bool:
            """Whether typed text waits in the box uncommitted: focus in it and a text other
            than the one its value shows (after Return the box has focus, not typed text)."""
            return self.hasFocus() and self.text() != _shown(self)

        def keyPressEvent(self, event: QKeyEvent) -> None:
            """Return commits the text; a refused one keeps the key (in a dialog it pressed the
            default button: an export started with the value the box kept)."""
            commit = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            refused = commit and _validate(self, self.text(), 0)[0] != QValidator.State.Acceptable
            super().keyPressEvent(event)
            if refused:
                event.accept()
            elif commit:
                self.taken.emit()

        def focusOutEvent(self, event: QFocusEvent) -> None:
            """Typed text committed by leaving the box counts as taken, as Return does."""
            typed = self.being_edited() and _validate(self, self.text(), 0)[0] == QValidator.State.Acceptable
            super().focusOutEvent(event)
            if typed:
                self.taken.emit()

    Box.__doc__ = doc
    return Box


NumberBox = _refusing(QDoubleSpinBox, "A QDoubleSpinBox for preset field `field` (named in its refusals).")
CountBox = _refusing(QSpinBox, "A QSpinBox for `field` (named in its refusals).")
