#!/usr/bin/env bash
# Creates Fairway's PostgreSQL roles and database.
#
# The postgres image runs it once, from /docker-entrypoint-initdb.d/, when it initialises an empty
# data directory. It is also safe to run again by hand, e.g. to apply changed passwords:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-fairway-roles.sh
#
#   fairway                owner of database `fairway`; runs the migrations (LOGIN CREATEDB CREATEROLE)
#                          and is a member of every service role so it can grant to them
#   fairway_<svc>          one LOGIN role per service; the migrations grant its table privileges
#
# Passwords come from the environment: FAIRWAY_PG_PASSWORD for `fairway`, FAIRWAY_PG_<SVC>_PASSWORD
# for the services. psql reads them itself (\getenv), so they appear on no command line.

# The entrypoint *sources* initdb scripts that are not executable. Running the body in a subshell
# keeps our shell options and variables from leaking into the entrypoint either way.
fairway_init_roles() (
    set -euo pipefail

    local services=(ingest converter metadata qc retention doi)
    local vars=(FAIRWAY_PG_PASSWORD) missing=() var svc
    for svc in "${services[@]}"; do vars+=("FAIRWAY_PG_${svc^^}_PASSWORD"); done
    for var in "${vars[@]}"; do
        [[ -n ${!var:-} ]] || missing+=("$var")
    done
    if ((${#missing[@]})); then
        echo "init-roles: missing password variables: ${missing[*]}" >&2
        exit 1
    fi

    # Build the script: every statement is idempotent (create if absent, then set attributes and
    # password), so a second run converges instead of failing.
    local sql
    sql=$(
        cat <<'SQL'
\set ON_ERROR_STOP on
-- Re-runs would otherwise print a NOTICE for every membership that already exists.
SET client_min_messages = warning;
\getenv owner_password FAIRWAY_PG_PASSWORD
SELECT 'CREATE ROLE fairway' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fairway') \gexec
ALTER ROLE fairway WITH LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD :'owner_password';
SQL
        for svc in "${services[@]}"; do
            cat <<SQL
\\getenv service_password FAIRWAY_PG_${svc^^}_PASSWORD
SELECT 'CREATE ROLE fairway_${svc}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fairway_${svc}') \\gexec
ALTER ROLE fairway_${svc} WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD :'service_password';
GRANT fairway_${svc} TO fairway;
SQL
        done
        cat <<'SQL'
SELECT 'CREATE DATABASE fairway OWNER fairway' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fairway') \gexec
-- Only Fairway's roles may connect; the schema-level grants come from the migrations.
REVOKE ALL ON DATABASE fairway FROM PUBLIC;
SQL
        for svc in "${services[@]}"; do
            echo "GRANT CONNECT ON DATABASE fairway TO fairway_${svc};"
        done
    )

    # During initdb the server listens only on its Unix socket, where the image trusts local users.
    psql --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres <<<"$sql"
    echo "init-roles: roles fairway, ${services[*]/#/fairway_} and database fairway are ready" >&2
)

fairway_init_roles
