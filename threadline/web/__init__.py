"""The steward web app (``threadline serve``)."""
