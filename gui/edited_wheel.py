"""The wheel for controls inside a scrolling panel: it changes the value only of the box or list
being edited (with keyboard focus); over any other it is left to the panel, which scrolls.
Qt's default gave focus and a new value to whatever lay under the pointer, so scrolling the
controls turned depth 4 into 3 and rebuilt the network. Used by gui/number_box.py's boxes and
gui/controls.py's Combo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QWheelEvent


class EditedWheel:
    """A mixin for a Qt input widget, listed before its Qt class: focus by click or Tab only,
    and the wheel for the focused widget alone. Call `take_wheel_focus_only()` in __init__."""

    def take_wheel_focus_only(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()
