"""Bar charts as plain numbers for inline SVG templates (no script, no library, nothing fetched)."""

from __future__ import annotations

from typing import Any

#: horizontal bars: room for the label, the bars and the figure
LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 220, 420, 110
ROW_HEIGHT = 26


def _number(value: Any) -> float:
    return 0.0 if value is None or value != value else float(value)


def _bars(items: list[dict[str, Any]], series: list[str]) -> dict[str, Any]:
    """Scaled bar geometry for ``items`` (each with a ``label`` and a value per series)."""
    top = max((abs(_number(item[s])) for item in items for s in series), default=0.0) or 1.0
    rows = []
    for n, item in enumerate(items):
        bars = []
        for k, s in enumerate(series):
            value = _number(item[s])
            height = (ROW_HEIGHT - 8) / len(series)
            bars.append({"series": s, "value": value, "x": LABEL_WIDTH, "y": n * ROW_HEIGHT + 4 + k * height,
                         "width": max(1.0, abs(value) / top * BAR_WIDTH) if value else 0.0, "height": height})
        rows.append({"label": item["label"], "y": n * ROW_HEIGHT, "bars": bars, "title": item.get("title", "")})
    return {"rows": rows, "series": series, "width": LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH,
            "height": max(ROW_HEIGHT, len(items) * ROW_HEIGHT), "label_width": LABEL_WIDTH,
            "value_x": LABEL_WIDTH + BAR_WIDTH + 6}


def variance_chart(rows: list[dict[str, Any]], keys: list[str], *, top: int = 15) -> dict[str, Any] | None:
    """Actual against estimate for the ``top`` roll-up rows that have an estimate (largest actual first)."""
    with_estimate = [r for r in rows if r.get("estimate_cost") is not None and r["estimate_cost"] == r["estimate_cost"]]
    if not with_estimate:
        return None
    chosen = sorted(with_estimate, key=lambda r: -_number(r.get("actual_cost")))[:top]
    items = [{"label": " / ".join(str(r[k]) for k in keys if r.get(k) not in (None, "")) or "(all)",
              "actual_cost": r.get("actual_cost"), "estimate_cost": r.get("estimate_cost"),
              "title": f"variance {_number(r.get('variance')):,.2f}"} for r in chosen]
    return _bars(items, ["actual_cost", "estimate_cost"])


def spend_chart(spend: list[dict[str, Any]], *, top: int = 15) -> dict[str, Any] | None:
    """Outside-processing spend per supplier and process, largest first."""
    if not spend:
        return None
    items = [{"label": f"{s['supplier_id']} · {s['process']}", "amount": s["amount"],
              "title": f"{s['lines']} line(s)"} for s in spend[:top]]
    return _bars(items, ["amount"])
