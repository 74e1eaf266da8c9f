"""Reconcile: the rule catalogue, links, outside processing, cost roll-ups and traceability gaps.

The entry point is ``reconciliation.engine.reconcile``; exception ids come from
``reconciliation.exceptions.exception_id``.
"""
