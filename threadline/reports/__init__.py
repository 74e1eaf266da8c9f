"""Reports for auditors and cost accountants, read from the warehouse.

Each report is a plain function returning the file's content, for the command line
(``threadline report ...``) and for downloads from the web app alike:

- ``gap.gap_report_html`` / ``gap.gap_report_csv``: the gap report of a period (``gap.parse_period``)
  and site: gaps standing at the period's end with evidence and history, counts by rule, trend;
  ``gap.write_gap_report`` is the per-run report every ``threadline run`` writes;
- ``evidence.evidence_pack_html``: everything about one work order, with source ids and checks;
- ``costs.costs_xlsx`` / ``costs.costs_csv_zip``: the cost roll-up per grain with its drill-down
  (``costs.read_cost_export`` with ``write_costs_xlsx``/``write_costs_csv`` write files directly).
"""
