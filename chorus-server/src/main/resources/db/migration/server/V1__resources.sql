-- The server's JSON resources. Flyway runs this in the store's schema (chorus_server unless configured).
--
-- body is bytea, not jsonb: jsonb reorders keys, drops duplicate keys and whitespace, and a client that
-- PUTs a document expects to GET the same bytes back. The server validated the JSON before storing it.
--
-- A row is never deleted. DELETE sets body to NULL and keeps version: the row is then a tombstone, and a
-- resource created again under the same key continues from the last version, so an entity tag ("<version>")
-- never names two different bodies of one key.
CREATE TABLE ${flyway:defaultSchema}.resources (
    tenant  text        NOT NULL,
    type    text        NOT NULL,
    id      text        NOT NULL,
    version bigint      NOT NULL CHECK (version >= 1),
    body    bytea,
    updated timestamptz NOT NULL,
    PRIMARY KEY (tenant, type, id)
);

COMMENT ON TABLE ${flyway:defaultSchema}.resources IS
    'Chorus server resources; body NULL marks a deleted key whose version must keep growing';
