"""Map: the canonical model, the mapping engine, named legacy transforms and shipped specs."""
