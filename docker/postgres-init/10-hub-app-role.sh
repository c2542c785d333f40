#!/bin/sh
# Runs once, when the database volume is first created (the postgres image's initdb hook): the
# role the web app and the workers connect as. `hub db upgrade` (the migrate service, as the
# owner) grants it what it needs: every table, but the audit log only to add to.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$HUB_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE hub_app LOGIN PASSWORD :'app_password';
SQL
