package dev.chorus.postgres;

import dev.chorus.ChorusException;
import dev.chorus.registry.DefinitionStore;
import dev.chorus.registry.StoredDefinition;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Registry definitions in PostgreSQL (table {@code definitions} of the Chorus schema), scoped by cluster so
 * deployments sharing a database keep their own. The table is created by {@link
 * PostgresDatabase#ensureSchema()}, which a {@link PostgresBackplane} runs at start.
 */
public final class PostgresDefinitionStore implements DefinitionStore {

    private final PostgresDatabase database;
    private final String cluster;
    private final String table;
    private final String sequence;

    /** Definitions of {@code cluster} (usually the channel name) in {@code database}. */
    public PostgresDefinitionStore(PostgresDatabase database, String cluster) {
        this.database = Objects.requireNonNull(database, "database");
        this.cluster = Objects.requireNonNull(cluster, "cluster");
        this.table = database.schema() + ".definitions";
        this.sequence = database.schema() + ".definition_versions";
    }

    @Override
    public List<StoredDefinition> loadAll(String registry) {
        try (Connection c = database.connection();
                PreparedStatement select = c.prepareStatement(
                        "SELECT id, version, body FROM " + table + " WHERE cluster = ? AND registry = ?")) {
            select.setString(1, cluster);
            select.setString(2, registry);
            List<StoredDefinition> all = new ArrayList<>();
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    all.add(new StoredDefinition(rs.getString(1), rs.getLong(2), rs.getBytes(3)));
                }
            }
            return all;
        } catch (SQLException e) {
            throw failed("read the definitions of registry '" + registry + "'", e);
        }
    }

    @Override
    public Optional<StoredDefinition> load(String registry, String id) {
        try (Connection c = database.connection();
                PreparedStatement select = c.prepareStatement(
                        "SELECT version, body FROM " + table + " WHERE cluster = ? AND registry = ? AND id = ?")) {
            select.setString(1, cluster);
            select.setString(2, registry);
            select.setString(3, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next()
                        ? Optional.of(new StoredDefinition(id, rs.getLong(1), rs.getBytes(2)))
                        : Optional.empty();
            }
        } catch (SQLException e) {
            throw failed("read definition '" + id + "' of registry '" + registry + "'", e);
        }
    }

    @Override
    public StoredDefinition save(String registry, String id, byte[] body) {
        try (Connection c = database.connection();
                PreparedStatement upsert = c.prepareStatement("INSERT INTO " + table
                        + " (cluster, registry, id, version, body) VALUES (?, ?, ?, nextval('" + sequence + "'), ?)"
                        // A new number drawn under the row lock: of two racing saves, the one that commits
                        // last has the larger version, so no replica ever prefers the older body.
                        + " ON CONFLICT (cluster, registry, id) DO UPDATE SET version = nextval('" + sequence + "'),"
                        + " body = EXCLUDED.body, updated_at = now() RETURNING version")) {
            upsert.setString(1, cluster);
            upsert.setString(2, registry);
            upsert.setString(3, id);
            upsert.setBytes(4, body);
            try (ResultSet rs = upsert.executeQuery()) {
                rs.next();
                return new StoredDefinition(id, rs.getLong(1), body.clone());
            }
        } catch (SQLException e) {
            throw failed("save definition '" + id + "' of registry '" + registry + "'", e);
        }
    }

    @Override
    public boolean delete(String registry, String id) {
        try (Connection c = database.connection();
                PreparedStatement delete =
                        c.prepareStatement("DELETE FROM " + table + " WHERE cluster = ? AND registry = ? AND id = ?")) {
            delete.setString(1, cluster);
            delete.setString(2, registry);
            delete.setString(3, id);
            return delete.executeUpdate() > 0;
        } catch (SQLException e) {
            throw failed("delete definition '" + id + "' of registry '" + registry + "'", e);
        }
    }

    private ChorusException failed(String what, SQLException e) {
        return new ChorusException("Could not " + what + " in " + database.describe() + ": " + e.getMessage(), e);
    }
}
