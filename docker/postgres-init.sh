#!/usr/bin/env bash
# Runs once, when the postgres service creates its data volume: the warehouse database (POSTGRES_DB,
# created by the image) gets a sibling for Airflow's metadata, owned by the same user.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE DATABASE airflow OWNER "$POSTGRES_USER";
SQL
