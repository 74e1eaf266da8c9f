# threadline with Airflow 3: the image of every threadline and Airflow service in docker-compose.yml.
# The same install as scripts/test.sh: Debian's ODBC drivers, then threadline with its airflow, web and
# postgres extras from pyproject.toml (so the image resolves the pins the tests ran with).
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc odbc-postgresql odbc-mariadb libsqliteodbc \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/threadline
COPY pyproject.toml README.md ./
COPY connectors ./connectors
COPY mappings ./mappings
COPY reconciliation ./reconciliation
COPY threadline ./threadline
COPY expectations ./expectations
# editable, as in scripts/test.sh: the shipped Great Expectations project (expectations/) is found
# beside the threadline package
RUN pip install --no-cache-dir -e ".[airflow,web,postgres]"
COPY dags ./dags
COPY plugins ./plugins
COPY docker ./docker

# Airflow's home (config, logs) and the demo landscape's volume belong to an unprivileged user
RUN useradd --create-home --uid 50000 threadline \
 && mkdir -p /opt/airflow /demo \
 && chown threadline /opt/airflow /demo
ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/threadline/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/threadline/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
USER threadline
