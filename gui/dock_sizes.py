"""Dock sizes kept through a smaller window. When the window shrinks, Qt's main window takes
the room from its docks as well as its central views; when it grows again, all the room goes
to the central views, so a dock once squeezed stays small (the input plane and the kernel
heatmap at a third of their size after a window was made small and large again). This
remembers each dock's width and height as laid out by the window's first layout, by a
separator dragged (at any window size), or by the layout at a steady window size no smaller
than when they were last remembered (a tab raised takes its group's; not the squeezed sizes,
nor a layout redone in a small window) and, when the window grows, gives each visible dock
back up to those sizes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar


class DockSizes(QObject):
    """Watches `docks` of `window`; the window calls `window_resized` from its resizeEvent.
    Sizes are those of the layout's items: a dock and, for tabbed docks, the tab bar under it
    (Qt's resizeDocks shares an area's room among its items in proportion to those)."""

    def __init__(self, window: QMainWindow, docks: list[QDockWidget]):
        super().__init__(window)
        self.window, self.docks = window, docks
        self.wanted: dict[QDockWidget, tuple[int, int]] = {}
        self._window_size: QSize | None = None  # the size the window was last laid out at
        self._remembered_at = QSize(0, 0)  # the window's size when `wanted` was last set
        self._giving_back = False
        self._arriving: set[QObject] = set()
        for dock in docks:
            dock.installEventFilter(self)
        window.installEventFilter(self)  # the separators between docks are the window's own

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window:
            if event.type() == QEvent.Type.MouseButtonRelease:  # a separator dragged, maybe
                QTimer.singleShot(0, self._remember_all)
            return False
        if event.type() == QEvent.Type.Move and not self.window.rect().contains(event.oldPos()):
            # a tab raised: Qt keeps the docks behind a tab outside the window and moves the
            # raised one in, then gives it the group's size: that size is no one's choice
            self._arriving.add(watched)
            QTimer.singleShot(0, lambda: self._arriving.discard(watched))
        elif (
            event.type() == QEvent.Type.Resize
            and not self._giving_back
            and watched not in self._arriving
            and self.window.size() == self._window_size
            and self._unsqueezed()
            and self._placed(watched)
        ):
            self._remember(watched, self._extents(watched, event.size()))
        return False

    def window_resized(self, old: QSize, new: QSize) -> None:
        """Called after the window's layout has placed the docks at the window's new size."""
        first = self._window_size is None
        self._window_size = QSize(new)
        grew = (new.width() > old.width(), new.height() > old.height())
        if first:
            QTimer.singleShot(0, self._remember_all)
        elif any(grew):
            QTimer.singleShot(0, lambda: self._give_back(grew))

    def _placed(self, dock: QObject) -> bool:
        """Whether `dock` is laid out in the window, in front (Qt keeps a tab behind another
        outside the window)."""
        return (
            isinstance(dock, QDockWidget)
            and dock.isVisible()
            and not dock.isFloating()
            and self.window.rect().contains(dock.geometry().topLeft())
        )

    def _extents(self, dock: QDockWidget, size: QSize) -> tuple[int, int]:
        """(width, height) of the dock's layout item: its size and its tab bar's height."""
        title = dock.windowTitle()
        tabs = [
            bar
            for bar in self.window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if bar.isVisible() and any(bar.tabText(i) == title for i in range(bar.count()))
        ]
        return size.width(), size.height() + sum(bar.height() for bar in tabs)

    def _unsqueezed(self) -> bool:
        size = self.window.size()
        return size.width() >= self._remembered_at.width() and size.height() >= self._remembered_at.height()

    def _remember(self, dock: QDockWidget, extents: tuple[int, int]) -> None:
        """For the dock and the docks tabbed with it (a tab raised later takes the group's place)."""
        for each in (dock, *self.window.tabifiedDockWidgets(dock)):
            self.wanted[each] = extents
        self._remembered_at = self.window.size()

    def _remember_all(self) -> None:
        for dock in self.docks:
            if self._placed(dock):
                self._remember(dock, self._extents(dock, dock.size()))

    def _give_back(self, grew: tuple[bool, bool]) -> None:
        """Docks back up to their remembered sizes along each axis the window grew on."""
        self._giving_back = True
        areas: dict[Qt.DockWidgetArea, list[QDockWidget]] = {}
        for dock in self.docks:
            if self._placed(dock) and dock in self.wanted:
                areas.setdefault(self.window.dockWidgetArea(dock), []).append(dock)
        for axis, orientation in enumerate((Qt.Orientation.Horizontal, Qt.Orientation.Vertical)):
            for docks in areas.values() if grew[axis] else ():
                now = [self._extents(d, d.size())[axis] for d in docks]
                wanted = [self.wanted[d][axis] for d in docks]
                # the whole area: a dock in a column grows by taking from its neighbours
                if any(n < w for n, w in zip(now, wanted)):
                    self.window.resizeDocks(docks, wanted, orientation)
        QTimer.singleShot(0, self._given_back)  # after the layout has applied those sizes

    def _given_back(self) -> None:
        self._giving_back = False
