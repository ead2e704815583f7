"""Dock sizes kept through a smaller window. When the window shrinks, Qt's main window takes
the room from its docks as well as its central views; when it grows again, all the room goes
to the central views, so a dock once squeezed stays small (the input plane and the kernel
heatmap at a third of their size after a window was made small and large again). This
remembers each dock's width and height as laid out by the window's first layout, by the
layout at a steady window size no smaller than when they were last remembered (a tab raised
takes its group's; not the squeezed sizes, nor a layout redone in a small window), and, at
any window size, what a separator drag changed (only the docks and the direction it moved).
When the window grows it gives them back: first each dock area's depth (the bottom area's
height, the side columns' widths), then, once laid out, the split among the docks inside an
area (Qt shares an area's room among its docks in proportion to the sizes asked)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar

DEPTH = {  # the axis (0 width, 1 height) of each dock area's own extent, away from its window edge
    Qt.DockWidgetArea.LeftDockWidgetArea: 0,
    Qt.DockWidgetArea.RightDockWidgetArea: 0,
    Qt.DockWidgetArea.TopDockWidgetArea: 1,
    Qt.DockWidgetArea.BottomDockWidgetArea: 1,
}


class DockSizes(QObject):
    """Watches `docks` of `window`; the window calls `window_resized` from its resizeEvent.
    Sizes are those of the layout's items: a dock and, for tabbed docks, the tab bar under it
    (Qt's resizeDocks shares an area's room among its items in proportion to those)."""

    def __init__(self, window: QMainWindow, docks: list[QDockWidget]):
        super().__init__(window)
        self.window, self.docks = window, docks
        self.wanted: dict[QDockWidget, list[int]] = {}  # [width, height] of each dock's layout item
        self._pressed: dict[QDockWidget, tuple[int, int]] = {}  # the items' sizes when a separator was taken
        self._window_size: QSize | None = None  # the size the window was last laid out at
        self._remembered_at = QSize(0, 0)  # the window's size when `wanted` was last set
        self._giving_back = False
        self._arriving: set[QObject] = set()
        for dock in docks:
            dock.installEventFilter(self)
        window.installEventFilter(self)  # the separators between docks are the window's own

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window:  # a separator dragged, maybe (the separators are the window's own)
            if event.type() == QEvent.Type.MouseButtonPress:
                self._pressed = {d: self._extents(d, d.size()) for d in self.docks if self._placed(d)}
            elif event.type() == QEvent.Type.MouseButtonRelease:
                QTimer.singleShot(0, self._remember_dragged)
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
            self._remembered_at = self.window.size()
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

    def _remember(self, dock: QDockWidget, extents: tuple[int, int], axes: tuple[int, ...] = (0, 1)) -> None:
        """For the dock and the docks tabbed with it (a tab raised later takes the group's place)."""
        for each in (dock, *self.window.tabifiedDockWidgets(dock)):
            wanted = self.wanted.setdefault(each, list(extents))
            for axis in axes:
                wanted[axis] = extents[axis]

    def _remember_all(self) -> None:
        for dock in self.docks:
            if self._placed(dock):
                self._remember(dock, self._extents(dock, dock.size()))
        self._remembered_at = self.window.size()

    def _remember_dragged(self) -> None:
        """What a separator drag changed: the docks it moved, in the direction it moved them."""
        for dock, before in self._pressed.items():
            if self._placed(dock):
                now = self._extents(dock, dock.size())
                self._remember(dock, now, tuple(axis for axis in (0, 1) if now[axis] != before[axis]))
        self._pressed = {}

    def _areas(self) -> dict[Qt.DockWidgetArea, list[QDockWidget]]:
        areas: dict[Qt.DockWidgetArea, list[QDockWidget]] = {}
        for dock in self.docks:
            if self._placed(dock) and dock in self.wanted:
                areas.setdefault(self.window.dockWidgetArea(dock), []).append(dock)
        return areas

    def _resize(self, docks: list[QDockWidget], axis: int, short_only: bool) -> None:
        """Ask for the remembered sizes along `axis`: an area's depth when some dock is short of
        it; otherwise (a split) scaled to the room the docks have now, or Qt moves the area's
        edge to make the sum (a column's split took 20 px from the bottom area)."""
        now = [self._extents(d, d.size())[axis] for d in docks]
        wanted = [self.wanted[d][axis] for d in docks]
        if not short_only:
            scaled = [round(w * sum(now) / max(sum(wanted), 1)) for w in wanted]
            wanted = [*scaled[:-1], sum(now) - sum(scaled[:-1])]
        if not short_only or any(n < w for n, w in zip(now, wanted, strict=True)):
            orientation = (Qt.Orientation.Horizontal, Qt.Orientation.Vertical)[axis]
            self.window.resizeDocks(docks, wanted, orientation)

    def _give_back(self, grew: tuple[bool, bool]) -> None:
        """Each dock area's depth back up to its remembered size along each axis the window
        grew on (the side columns' widths, the top and bottom areas' heights); then the splits."""
        self._giving_back = True
        for area, docks in self._areas().items():
            axis = DEPTH[area]
            if grew[axis]:
                self._resize(docks, axis, short_only=True)
        QTimer.singleShot(0, lambda: self._split_back(grew))  # after the layout has applied the depths

    def _split_back(self, grew: tuple[bool, bool]) -> None:
        """The share of each dock in an area of several (a column's docks' heights), as remembered."""
        for area, docks in self._areas().items():
            axis = 1 - DEPTH[area]
            if grew[axis] and len(docks) > 1:
                self._resize(docks, axis, short_only=False)
        QTimer.singleShot(0, self._given_back)

    def _given_back(self) -> None:
        self._giving_back = False
