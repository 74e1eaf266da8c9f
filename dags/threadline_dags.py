"""threadline's Airflow DAGs: a sync DAG per source and the reconcile DAG, built from threadline.yaml.

Set THREADLINE_CONFIG to the config file for the scheduler, dag-processor and workers. Parsing reads
that file and nothing else; the tasks and their logic live in ``threadline.airflow``.
"""

from threadline.airflow.dags import build_dags

globals().update(build_dags())
