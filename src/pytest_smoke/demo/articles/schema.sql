-- The articles service's database (see CONTRACT.md, "Database").
--
-- Apply it as a superuser (or the database owner), connected to the articles database:
--     psql -v ON_ERROR_STOP=1 -d smoke_articles -f src/pytest_smoke/demo/articles/schema.sql
-- It is safe to apply again. The role's password, and the one user, are left to whoever
-- deploys it (the launcher: ALTER ROLE articles_app PASSWORD ...; INSERT INTO users ...).

-- The role is cluster-wide: create it once, tolerating a concurrent creator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'articles_app') THEN
        CREATE ROLE articles_app NOLOGIN;  -- a group: each deployment logs in as a member
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username <> ''),
    email text UNIQUE,                     -- signed-up users have one; the seeded user may not
    password_hash text NOT NULL,           -- passwords.py: scrypt$n$r$p$salt$hash
    bio text NOT NULL DEFAULT '',
    image text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS articles (
    id bigserial PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    title text NOT NULL CHECK (title <> ''),
    description text NOT NULL,
    body text NOT NULL,
    tag_list text[] NOT NULL DEFAULT '{}',
    author_id int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The listing's order: newest first, ties broken by id.
CREATE INDEX IF NOT EXISTS articles_newest_first ON articles (created_at DESC, id DESC);

-- A database made before users signed up: add their column.
ALTER TABLE users ADD COLUMN IF NOT EXISTS email text UNIQUE;

-- The service reads users (login), signs them up and deletes them, and writes articles; it
-- never changes the schema, nor a user once made.
GRANT SELECT, INSERT, DELETE ON users TO articles_app;
GRANT USAGE ON SEQUENCE users_id_seq TO articles_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON articles TO articles_app;
GRANT USAGE ON SEQUENCE articles_id_seq TO articles_app;
