"""threadline under Airflow 3: the DAGs built from threadline.yaml and what their tasks run.

- ``plan``: what the DAG files read at parse time (the config file named by ``$THREADLINE_CONFIG``,
  and nothing else: no database, no network, no heavy imports);
- ``dags``: one sync DAG per source and the reconcile DAG, built from the plan;
- ``tasks``: the task bodies, which load the whole config and call ``threadline.pipeline`` exactly
  as the CLI does (``threadline sync --source S``, then reconcile and publish).
"""
