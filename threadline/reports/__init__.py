"""Reports for auditors and cost accountants: the gap report (HTML and CSV)."""
