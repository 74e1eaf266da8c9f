"""Warehouse: schema generated from the canonical model, migrations, loads."""
