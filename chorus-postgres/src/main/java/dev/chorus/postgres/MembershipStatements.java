package dev.chorus.postgres;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.membership.Member;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The SQL of {@link PostgresMembership}: each method is one autocommit statement on the {@code members} table,
 * with every time taken from the database clock.
 */
final class MembershipStatements {

    /** One member row as read, with the database's verdict on it. */
    record Row(Member member, boolean live) {}

    /** Every row of the cluster, whether any is due for removal, and the database clock at the read. */
    record Rows(List<Row> rows, Map<UUID, Row> byId, boolean removable, Instant databaseNow) {}

    private final String cluster;
    private final long expiryMicros;
    private final String heartbeatSql;
    private final String joinSql;
    private final String readSql;
    private final String removeSql;
    private final String leaveSql;

    MembershipStatements(String schema, String cluster, Duration expiry) {
        this.cluster = cluster;
        this.expiryMicros = expiry.toNanos() / 1_000;
        String members = schema + ".members";
        String expiryAgo = "now() - ? * interval '1 microsecond'";
        // A row written by hand with attributes that are not an object must not break every replica's refresh.
        String object = "CASE jsonb_typeof(attributes) WHEN 'object' THEN attributes ELSE '{}'::jsonb END";
        this.heartbeatSql = "UPDATE " + members + " SET heartbeat = now() WHERE id = ? AND cluster = ?"
                + " RETURNING started, heartbeat";
        // On a re-join the row keeps its first start time; on a race with our own earlier insert it just beats.
        this.joinSql = "INSERT INTO " + members + " (id, cluster, name, version, started, heartbeat, attributes)"
                + " VALUES (?, ?, ?, ?, coalesce(?::timestamptz, now()), now(), jsonb_object(?::text[], ?::text[]))"
                + " ON CONFLICT (id) DO UPDATE SET heartbeat = now() RETURNING started, heartbeat";
        this.readSql = "SELECT id, name, version, started, heartbeat, heartbeat > " + expiryAgo + ", heartbeat < "
                + expiryAgo + ", now(),"
                + " ARRAY(SELECT e.key FROM jsonb_each_text(" + object + ") e ORDER BY e.key),"
                + " ARRAY(SELECT coalesce(e.value, '') FROM jsonb_each_text(" + object + ") e ORDER BY e.key)"
                + " FROM " + members + " WHERE cluster = ? ORDER BY started, id";
        this.removeSql = "DELETE FROM " + members + " WHERE cluster = ? AND heartbeat < " + expiryAgo;
        this.leaveSql = "DELETE FROM " + members + " WHERE id = ?";
    }

    /** Refreshes the heartbeat of {@code self}'s row; null if the row is gone. */
    @Nullable
    Member heartbeat(Connection connection, Member self) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(heartbeatSql)) {
            statement.setObject(1, self.id().uuid());
            statement.setString(2, cluster);
            try (ResultSet row = statement.executeQuery()) {
                return row.next() ? withTimes(self, row) : null;
            }
        }
    }

    /** Inserts {@code self}'s row, started now by the database clock unless {@code started} is given. */
    Member join(Connection connection, Member self, @Nullable Instant started) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(joinSql)) {
            statement.setObject(1, self.id().uuid());
            statement.setString(2, cluster);
            statement.setString(3, self.id().name());
            statement.setString(4, self.version());
            if (started == null) {
                statement.setNull(5, Types.TIMESTAMP_WITH_TIMEZONE);
            } else {
                statement.setObject(5, OffsetDateTime.ofInstant(started, ZoneOffset.UTC));
            }
            List<String> keys = new ArrayList<>(self.attributes().keySet());
            List<String> values = new ArrayList<>();
            for (String key : keys) {
                values.add(self.attributes().get(key));
            }
            statement.setArray(6, connection.createArrayOf("text", keys.toArray()));
            statement.setArray(7, connection.createArrayOf("text", values.toArray()));
            try (ResultSet row = statement.executeQuery()) {
                row.next();
                return withTimes(self, row);
            }
        }
    }

    /** Every row of the cluster, oldest first. */
    Rows read(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(readSql)) {
            statement.setLong(1, expiryMicros);
            statement.setLong(2, expiryMicros * PostgresMembership.REMOVE_AFTER_EXPIRIES);
            statement.setString(3, cluster);
            List<Row> rows = new ArrayList<>();
            Map<UUID, Row> byId = new LinkedHashMap<>();
            boolean removable = false;
            Instant now = Instant.now();
            try (ResultSet result = statement.executeQuery()) {
                while (result.next()) {
                    UUID id = result.getObject(1, UUID.class);
                    Member member = new Member(
                            replica(id, result.getString(2)),
                            result.getString(3),
                            instant(result, 4),
                            instant(result, 5),
                            attributes(result.getArray(9), result.getArray(10)));
                    Row row = new Row(member, result.getBoolean(6));
                    rows.add(row);
                    byId.put(id, row);
                    removable |= result.getBoolean(7);
                    now = instant(result, 8);
                }
            }
            return new Rows(List.copyOf(rows), byId, removable, now);
        }
    }

    /** Deletes the cluster's rows expired for {@link PostgresMembership#REMOVE_AFTER_EXPIRIES} expiries. */
    int removeLongExpired(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(removeSql)) {
            statement.setString(1, cluster);
            statement.setLong(2, expiryMicros * PostgresMembership.REMOVE_AFTER_EXPIRIES);
            return statement.executeUpdate();
        }
    }

    /** Deletes {@code self}'s row: a clean leave. */
    void leave(Connection connection, ReplicaId self) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(leaveSql)) {
            statement.setObject(1, self.uuid());
            statement.executeUpdate();
        }
    }

    private static Member withTimes(Member self, ResultSet row) throws SQLException {
        return new Member(self.id(), self.version(), instant(row, 1), instant(row, 2), self.attributes());
    }

    private static Instant instant(ResultSet row, int column) throws SQLException {
        return row.getObject(column, OffsetDateTime.class).toInstant();
    }

    private static Map<String, String> attributes(Array keys, Array values) throws SQLException {
        String[] k = (String[]) keys.getArray();
        String[] v = (String[]) values.getArray();
        Map<String, String> attributes = new LinkedHashMap<>();
        for (int i = 0; i < k.length; i++) {
            attributes.put(k[i], v[i]);
        }
        return attributes;
    }

    private static ReplicaId replica(UUID id, @Nullable String name) {
        try {
            return ReplicaId.of(id, name);
        } catch (ChorusException e) {
            // A name this version would not accept (written by hand, or by another version): keep the id.
            return ReplicaId.of(id, null);
        }
    }
}
