#!/usr/bin/env bash
# Sets up what the tests need on a Debian machine, then runs them.
#   - Debian's unixODBC and ODBC drivers (PostgreSQL, MariaDB, SQLite) and the PostgreSQL and
#     MariaDB server packages (the tests use the servers running on loopback, or start throwaway ones)
#   - Debian's chromium, which the browser tests drive headless through Playwright (no browser download)
#   - the virtual environment in .venv with threadline, its dev extras, Airflow 3 (the airflow extra:
#     tests/dags parse and run the DAGs with a real Airflow; it installs alongside the project's pins)
#     and the steward web app (the web extra)
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(unixodbc unixodbc-dev odbc-postgresql odbc-mariadb libsqliteodbc postgresql mariadb-server chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# psqlODBC's CommLog writes a log file per process when enabled in odbcinst.ini
if grep -q '^CommLog=1' /etc/odbcinst.ini 2>/dev/null; then
  $SUDO sed -i 's/^CommLog=1/CommLog=0/' /etc/odbcinst.ini
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,airflow,web]'
exec .venv/bin/python -m pytest "$@"
