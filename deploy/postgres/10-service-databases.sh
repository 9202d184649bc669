#!/bin/bash
# Runs once, when the postgres volume is first initialised: one database and one login per
# service, each able to reach only its own database.
set -euo pipefail

create_service_database() {
    local name=$1 password=$2
    psql -v ON_ERROR_STOP=1 --dbname postgres -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

create_service_database users_service "${USERS_DB_PASSWORD:?USERS_DB_PASSWORD is required}"
create_service_database orders_service "${ORDERS_DB_PASSWORD:?ORDERS_DB_PASSWORD is required}"
