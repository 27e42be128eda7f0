-- The demo service's database (see CONTRACT.md, "Database").
--
-- Apply it as a superuser, connected to the demo database:
--     psql -v ON_ERROR_STOP=1 -d smoke_demo -f src/pytest_smoke/demo/items/schema.sql
-- It is safe to apply again. The tables belong to whoever applies it, never to demo_app, so
-- row-level security applies to demo_app. The role's password is left to the launcher
-- (ALTER ROLE demo_app PASSWORD ...).

-- The role is cluster-wide: create it once, tolerating a concurrent creator. A role that already
-- exists is altered only if it could step around row-level security (ALTER ROLE on every run
-- would collide with concurrent runs).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_app') THEN
        CREATE ROLE demo_app LOGIN;
    ELSIF EXISTS (
        SELECT FROM pg_roles
        WHERE rolname = 'demo_app' AND (rolsuper OR rolbypassrls OR NOT rolcanlogin)
    ) THEN
        ALTER ROLE demo_app WITH LOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE IF NOT EXISTS tenants (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS items (
    id serial PRIMARY KEY,
    tenant_id int NOT NULL REFERENCES tenants (id),
    name text NOT NULL,
    price numeric(12, 2) NOT NULL CHECK (price >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

INSERT INTO tenants (id, name) VALUES (1, 'demo'), (2, 'other') ON CONFLICT DO NOTHING;
SELECT setval(pg_get_serial_sequence('tenants', 'id'), (SELECT max(id) FROM tenants));

ALTER TABLE items ENABLE ROW LEVEL SECURITY;
ALTER TABLE items FORCE ROW LEVEL SECURITY;
-- nullif: once a session has used SET LOCAL, the unset setting reads as '' rather than NULL,
-- and ''::int would make every later query without a tenant fail instead of seeing no rows.
DROP POLICY IF EXISTS tenant_isolation ON items;
CREATE POLICY tenant_isolation ON items
    USING (tenant_id = nullif(current_setting('app.current_tenant', true), '')::int)
    WITH CHECK (tenant_id = nullif(current_setting('app.current_tenant', true), '')::int);

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, items TO demo_app;
GRANT USAGE ON SEQUENCE tenants_id_seq, items_id_seq TO demo_app;
DO $$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO demo_app', current_database());
END
$$;
