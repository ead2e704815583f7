"""The claims panel shows a claims.json as written by sim.claims, refuses a broken file in one
line with the table kept, and a quick check it starts can be cancelled."""

import json

from gui.claims_panel import COLUMNS, ClaimsPanel
from sim.claims import Claim, finite


def write_claims(path, claims):
    rows = [{**c.to_dict(), "number": finite(c.number)} for c in claims]
    path.write_text(json.dumps({"seed": 0, "quick": True, "claims": rows}), encoding="utf-8")


def test_the_panel_shows_every_claim_of_a_file(qtbot, tmp_path):
    claims = [
        Claim("a", "first claim", "what was measured", 0.125, "holds", "because"),
        Claim("b", "second claim", "another number", float("nan"), "deviates", "it did not"),
    ]
    write_claims(tmp_path / "claims.json", claims)
    panel = ClaimsPanel()
    qtbot.addWidget(panel)
    panel.load(tmp_path / "claims.json")
    assert panel.table.rowCount() == 2
    cell = {name: i for i, name in enumerate(COLUMNS)}
    assert panel.table.item(0, cell["claim"]).text() == "first claim"
    assert float(panel.table.item(0, cell["number"]).text()) == 0.125
    assert panel.table.item(1, cell["number"]).text() == "-"
    assert panel.table.item(1, cell["verdict"]).text() == "deviates"
    assert panel.status.text() == "1 of 2 claims hold"
    for content, why in (
        ("{}", "expected an object whose 'claims' is a list of claims with"),  # it said "'claims'" (a KeyError)
        ("[1, 2]", "expected an object whose 'claims' is a list of claims with"),
        ("{not json", "not JSON"),
    ):
        (tmp_path / "bad.json").write_text(content, encoding="utf-8")
        panel.load(tmp_path / "bad.json")
        text = panel.status.text()
        assert text.startswith(f"{tmp_path / 'bad.json'}: not a claims.json: {why}"), text
        assert "\n" not in text and panel.table.rowCount() == 2
    panel.load(tmp_path / "gone.json")
    assert panel.status.text().endswith("gone.json: cannot read: No such file or directory")


def test_a_running_check_cancels(qtbot):
    panel = ClaimsPanel()
    qtbot.addWidget(panel)
    panel.start()
    assert panel.running and not panel.run_button.isEnabled()
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.status.text() == "cancelled" and panel.run_button.isEnabled()


def test_the_window_shows_the_claims_panel_as_a_dock(qtbot, tmp_path) -> None:
    from gui_support import open_window, wait_for

    window = open_window(qtbot, tmp_path)
    assert not window.in_front.get(window.claims_dock, False)  # a background tab behind the metrics
    window.view_actions[window.claims_dock].trigger()
    wait_for(qtbot, lambda: window.in_front[window.claims_dock])


def test_the_table_reads_at_1366_by_768(qtbot, tmp_path):
    """The texts share the width the numbers leave (every column was 100 px, 800 px blank),
    each row is as tall as its wrapped text and scrolls by pixels, and a verdict's colour is its
    text's, bright on the dark table (white on pale green was unreadable)."""
    from PySide6.QtWidgets import QAbstractItemView

    from gui.claims_panel import VERDICT_COLOURS

    long = "a claim of the paper that takes several lines when wrapped in a narrow column " * 3
    write_claims(tmp_path / "claims.json", [Claim("a", long, "measured", 0.5, "holds", "why " * 30)])
    panel = ClaimsPanel()
    qtbot.addWidget(panel)
    panel.resize(1311, 200)
    panel.show()
    panel.load(tmp_path / "claims.json")
    table, header = panel.table, panel.table.horizontalHeader()
    cell = {name: i for i, name in enumerate(COLUMNS)}
    qtbot.waitUntil(lambda: sum(header.sectionSize(c) for c in range(len(COLUMNS))) >= table.viewport().width() - 2)
    assert header.sectionSize(cell["verdict"]) < header.sectionSize(cell["claim"])
    qtbot.waitUntil(lambda: table.rowHeight(0) >= table.sizeHintForRow(0) > 2 * table.fontMetrics().height())
    assert table.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerPixel
    verdict = table.item(0, cell["verdict"])
    assert verdict.foreground().color() == VERDICT_COLOURS["holds"] and verdict.foreground().color().lightness() > 128
