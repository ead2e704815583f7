"""ElidedLabel: a one-line QLabel that, narrower than its text, draws it cut with an
ellipsis and gives the whole text as its tooltip (a word-wrapped label instead asks its
layout for height-for-width, which a scroll area honours at the preferred height)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel


class ElidedLabel(QLabel):
    """A one-line label that, narrower than its text, shows it cut with an ellipsis (the whole
    text in its tooltip) instead of clipped mid-letter."""

    def minimumSizeHint(self) -> QSize:
        """As narrow as its layout likes (the text is cut), one line tall."""
        return QSize(0, super().minimumSizeHint().height())

    def shown_text(self) -> str:
        """The text as drawn at the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def setText(self, text: str) -> None:
        super().setText(text)
        self._tip()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._tip()

    def _tip(self) -> None:
        self.setToolTip(self.text() if self.shown_text() != self.text() else "")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawText(self.contentsRect(), int(self.alignment()), self.shown_text())
