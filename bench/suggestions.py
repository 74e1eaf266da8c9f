"""Precision and recall of LNK-006's link suggestions over the demo plant's planted ground truth.

Builds the demo landscape (``threadline.demo``) at ``--scale`` (default 1000, the demo's default),
reads it through the real connectors and mappings, reconciles it with the default tolerances and
scores the suggested links against the manifest's ``link_truth`` (PO lines whose references to
their work were removed, with the work they are for):

- precision: suggested links naming the right work order / all suggested links;
- recall: planted lines with a suggestion naming the right work order / planted lines;
- also how many right suggestions name the right operation too, and the figures per text style.

    .venv/bin/python bench/suggestions.py
    .venv/bin/python bench/suggestions.py --scale 2000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def demo_reconcile(out_dir: Path, scale: int, seed: int = 7, **tolerances):
    """Build the landscape in ``out_dir``, read it like a run and reconcile: (manifest, result)."""
    import pandas as pd

    import connectors
    import threadline.config as config_module
    from mappings import engine
    from mappings.spec import load_spec
    from reconciliation.engine import ReconcileSettings, reconcile
    from threadline.demo.landscape import build_landscape

    landscape = build_landscape(out_dir, scale=scale, seed=seed)
    manifest = json.loads(landscape.manifest_path.read_text())
    os.environ.update(landscape.env)
    config = config_module.load_config(landscape.config_path)
    frames: dict[str, list[pd.DataFrame]] = {}
    with landscape.start_erp_service():
        for source in config.sources:
            with connectors.connector_class(source.kind)(source.name, config.connection_settings(source)) as conn:
                for stream in config.stream_settings(source):
                    spec = load_spec(config.resolve_mapping(stream.mapping))
                    for batch in conn.read(stream, None):
                        mapped = engine.map_batch(spec, batch.to_pandas(), source_system=source.name, run_id="bench",
                                                  extracted_at=datetime(2026, 6, 30)).mapped
                        frames.setdefault(spec.entity.name, []).append(mapped)
    settings = ReconcileSettings(as_of=config.rules.as_of, reporting_currency=config.reporting_currency,
                                 tolerances={"LNK-006": tolerances} if tolerances else {})
    result = reconcile({k: pd.concat(v, ignore_index=True) for k, v in frames.items()}, settings)
    return manifest, result


def score_suggestions(suggestions, truth: list[dict]) -> dict:
    """Precision and recall of suggested links (a frame with site, po_number, line_number, wo_number,
    op_seq) against the planted truth, at work-order level, plus operation-level agreement."""
    right = {(t["site"], t["po_number"], t["line_number"]): t for t in truth}
    suggested = list(zip(suggestions["site"], suggestions["po_number"], suggestions["line_number"],
                         suggestions["wo_number"], suggestions["op_seq"]))
    correct = [s for s in suggested if s[:3] in right and right[s[:3]]["wo_number"] == s[3]]
    correct_op = [s for s in correct if right[s[:3]]["op_seq"] == s[4]]
    found = {s[:3] for s in correct}
    per_style: dict[str, dict[str, int]] = {}
    for key, t in right.items():
        style = per_style.setdefault(t["text_style"], {"planted": 0, "found": 0})
        style["planted"] += 1
        style["found"] += key in found
    return {
        "planted": len(right), "suggested": len(suggested), "correct": len(correct),
        "correct_with_operation": len(correct_op),
        "precision": round(len(correct) / len(suggested), 4) if suggested else None,
        "recall": round(len(found) / len(right), 4) if right else None,
        "per_text_style": per_style,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1000, help="work orders in the demo plant")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, help="LNK-006 threshold (default: the catalogue's)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    tolerances = {"threshold": args.threshold} if args.threshold is not None else {}
    with tempfile.TemporaryDirectory() as tmp:
        manifest, result = demo_reconcile(Path(tmp), args.scale, args.seed, **tolerances)
    figures = score_suggestions(result.suggestions, manifest["link_truth"])
    print(f"demo scale {args.scale}: {figures['planted']} planted unlinked lines, {figures['suggested']} suggested "
          f"links, {figures['correct']} right ({figures['correct_with_operation']} with the right operation): "
          f"precision {figures['precision']}, recall {figures['recall']}")
    print("per description style:", ", ".join(f"{k} {v['found']}/{v['planted']}"
                                             for k, v in figures["per_text_style"].items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
