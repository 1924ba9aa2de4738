-- Chorus on PostgreSQL: the tables every replica needs, in schema ${schema}.
-- Chorus runs this at start, idempotently, under a transaction-scoped advisory lock so that replicas
-- starting together do not race. If you run your own migrations instead, replace ${schema} with your
-- schema name (default chorus), run it once, and build PostgresDatabase with manageSchema(false).

CREATE SCHEMA IF NOT EXISTS ${schema};

-- Transactional outbox: a row written in the caller's transaction is announced after commit by a relay
-- that deletes it and sends its notification in one transaction. Any replica's relay may do it.
CREATE TABLE IF NOT EXISTS ${schema}.outbox (
    id          bigserial   PRIMARY KEY,
    channel     text        NOT NULL,
    topic       text        NOT NULL,
    headers     text[]      NOT NULL DEFAULT '{}',   -- name, value, name, value, ...
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbox_channel_id ON ${schema}.outbox (channel, id);

-- Envelopes too large for one NOTIFY (8000 bytes): the notification carries the row id instead.
-- Receivers read the row of their channel only; rows older than the retention period are deleted by any
-- replica. Rows without a channel (written before the column existed) are never loaded.
CREATE TABLE IF NOT EXISTS ${schema}.spill (
    id          bigserial   PRIMARY KEY,
    channel     text,
    envelope    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Tables from before the column get it; checked first, because ALTER TABLE locks the table even when it
-- changes nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = '${schema}' AND table_name = 'spill' AND column_name = 'channel') THEN
        ALTER TABLE ${schema}.spill ADD COLUMN channel text;
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS spill_created_at ON ${schema}.spill (created_at);

-- Live replicas: one row each, heartbeat by the database clock.
CREATE TABLE IF NOT EXISTS ${schema}.members (
    id          uuid        PRIMARY KEY,
    cluster     text        NOT NULL,
    name        text,
    version     text        NOT NULL,
    started     timestamptz NOT NULL,
    heartbeat   timestamptz NOT NULL,
    attributes  jsonb       NOT NULL DEFAULT '{}'::jsonb
);
-- No index on heartbeat: it changes every beat, and an index on it would rule out HOT updates.

-- Leases with fencing tokens: one sequence for every key, so a newer owner always holds a larger token.
-- Release keeps the row (holder null, expired) so that every later owner of the key draws its token under
-- the row's lock; rows expired for longer than the retention (1 hour by default) are deleted by any replica.
CREATE SEQUENCE IF NOT EXISTS ${schema}.lease_tokens;
CREATE TABLE IF NOT EXISTS ${schema}.leases (
    cluster     text        NOT NULL,
    key         text        NOT NULL,
    holder      uuid,
    holder_name text,
    token       bigint      NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (cluster, key)
);

-- Definitions of per-replica resources (ReplicatedRegistry): the store every replica reconciles against.
-- Versions come from one sequence, so a definition deleted and created again still gets a larger version.
CREATE SEQUENCE IF NOT EXISTS ${schema}.definition_versions;
CREATE TABLE IF NOT EXISTS ${schema}.definitions (
    cluster     text        NOT NULL,
    registry    text        NOT NULL,
    id          text        NOT NULL,
    version     bigint      NOT NULL,
    body        bytea       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster, registry, id)
);
