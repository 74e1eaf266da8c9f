#!/usr/bin/env bash
# The demo-init service of docker-compose.yml: builds the demo landscape into /demo (THREADLINE_DEMO_DIR)
# once (a second `docker compose up` keeps it, with its warehouse state), creates the warehouse schema
# and the steward web app's user `admin` (password THREADLINE_ADMIN_PASSWORD), and stores the legacy
# ERP's login and password as the Airflow Connection the erp_soap source names. Needs the Airflow
# database migrated.
set -euo pipefail
DEMO="${THREADLINE_DEMO_DIR:-/demo}"
if [ ! -f "$DEMO/threadline.yaml" ]; then
  threadline demo-build --out "$DEMO" --scale "${THREADLINE_DEMO_SCALE:-1000}" \
    --erp-host demo-erp --erp-port 8000 \
    --warehouse-url-env THREADLINE_WAREHOUSE_URL --erp-connection-id threadline_demo_erp
fi
threadline --config "$DEMO/threadline.yaml" db upgrade
if ! threadline --config "$DEMO/threadline.yaml" users list --json | grep -q '"user_name": "admin"'; then
  THREADLINE_USER_PASSWORD="${THREADLINE_ADMIN_PASSWORD:?set THREADLINE_ADMIN_PASSWORD}" \
    threadline --config "$DEMO/threadline.yaml" users add admin --role admin
fi
set -a; . "$DEMO/demo.env"; set +a
airflow connections delete threadline_demo_erp >/dev/null 2>&1 || true
airflow connections add threadline_demo_erp --conn-type http --conn-login threadline \
  --conn-password "$THREADLINE_DEMO_ERP_PASSWORD"
