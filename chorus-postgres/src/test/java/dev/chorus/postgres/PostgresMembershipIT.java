package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.MembershipCompatibilityKit;
import dev.chorus.testkit.TestPostgres;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** PostgreSQL membership passes the membership compatibility kit, and survives an unreachable database. */
class PostgresMembershipIT extends MembershipCompatibilityKit {

    static final Duration INTERVAL = Duration.ofMillis(200);
    static final Duration EXPIRY = Duration.ofSeconds(1);

    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger membershipLog = (Logger) LoggerFactory.getLogger(PostgresMembership.class);

    @Override
    protected MembershipFixture newCluster(String testName) throws Exception {
        return new Cluster(testName);
    }

    @BeforeEach
    void captureLogs() {
        logs.start();
        membershipLog.addAppender(logs);
    }

    @AfterEach
    void stopCapturingLogs() {
        membershipLog.detachAppender(logs);
    }

    /** One schema; every member gets its own database handle and pool, as separate processes would. */
    static final class Cluster implements MembershipFixture {
        final TestPostgres.Schema schema;
        private final List<Runnable> closers = new CopyOnWriteArrayList<>();

        Cluster(String testName) throws SQLException {
            schema = TestPostgres.server().newSchema("members_" + testName);
            try (PostgresDatabase setup = database(schema.jdbcUrl())) {
                setup.ensureSchema();
            }
        }

        PostgresDatabase database(String url) {
            // The testkit's URL carries currentSchema; harmless, as every statement names the schema.
            PostgresDatabase database = PostgresDatabase.builder(url)
                    .schema(schema.name())
                    .poolSize(2)
                    .connectTimeout(Duration.ofMillis(500))
                    .build();
            closers.add(0, database::close);
            return database;
        }

        PostgresMembership join(PostgresMembership.Builder builder) {
            PostgresMembership membership =
                    builder.heartbeatInterval(INTERVAL).expiry(EXPIRY).build();
            closers.add(0, membership::close);
            return membership;
        }

        @Override
        public Membership join(ReplicaId replica, String version, Map<String, String> attributes) {
            return join(PostgresMembership.builder(database(schema.jdbcUrl()), replica)
                    .cluster("kit")
                    .version(version)
                    .attributes(attributes));
        }

        @Override
        public void crash(Membership membership) {
            ((PostgresMembership) membership).abandon();
        }

        @Override
        public Duration expiry() {
            // The last heartbeat may be one interval old at the crash, and expiry is noticed at a refresh.
            return EXPIRY.plus(INTERVAL).plus(INTERVAL);
        }

        int rows(ReplicaId replica) throws SQLException {
            try (Connection connection = schema.connect();
                    Statement statement = connection.createStatement();
                    ResultSet row = statement.executeQuery(
                            "SELECT count(*) FROM " + schema.name() + ".members WHERE id = '" + replica.uuid() + "'")) {
                row.next();
                return row.getInt(1);
            }
        }

        void execute(String sql) throws SQLException {
            try (Connection connection = schema.connect();
                    Statement statement = connection.createStatement()) {
                statement.execute(sql);
            }
        }

        @Override
        public void close() {
            closers.forEach(Runnable::run);
            schema.close();
        }
    }

    private static ConditionFactory waiting() {
        return await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10));
    }

    @Test
    void builder_rejectsAnExpiryNotAboveTwiceTheInterval() throws Exception {
        try (Cluster cluster = new Cluster("builder")) {
            PostgresDatabase database = cluster.database(cluster.schema.jdbcUrl());

            assertThatThrownBy(() -> PostgresMembership.builder(database, ReplicaId.random())
                            .heartbeatInterval(Duration.ofSeconds(2))
                            .expiry(Duration.ofSeconds(4))
                            .build())
                    .isInstanceOf(ChorusException.class)
                    .hasMessageContaining("PT4S")
                    .hasMessageContaining("twice the heartbeat interval (PT2S)");
        }
    }

    @Test
    void unreachableDatabase_degradesKeepsTheLastListAndRecovers() throws Exception {
        try (FaultProxy proxy = FaultProxy.start(
                        TestPostgres.server().host(), TestPostgres.server().port());
                Cluster cluster = new Cluster("unreachable")) {
            PostgresMembership a =
                    cluster.join(PostgresMembership.builder(cluster.database(viaProxy(proxy)), ReplicaId.random("a"))
                            .cluster("kit"));
            PostgresMembership b = cluster.join(
                    PostgresMembership.builder(cluster.database(cluster.schema.jdbcUrl()), ReplicaId.random("b"))
                            .cluster("kit"));
            Recorder onB = new Recorder();
            b.onChange(onB);
            waiting().until(() -> a.liveCount() == 2);

            proxy.refuse(true);
            proxy.cut();

            waiting().until(() -> a.health().status() == Health.Status.DEGRADED);
            assertThat(a.health().reason())
                    .contains("cannot heartbeat to PostgreSQL")
                    .contains("ms old");
            waiting().until(() -> onB.events.contains("EXPIRED a"));
            waiting()
                    .until(() -> errors() == 1
                            && a.health().details().get("membersAgeMillis") instanceof Long age
                            && age > EXPIRY.toMillis() * 2);
            assertThat(a.members())
                    .as("the last known list")
                    .extracting(m -> m.id().name())
                    .contains("a", "b");
            assertThat(errors()).as("one ERROR for the whole outage").isEqualTo(1);

            proxy.refuse(false);

            waiting().until(() -> a.health().isHealthy());
            waiting().until(() -> onB.events.contains("joined a"));
            assertThat(logs.list).anySatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.INFO);
                assertThat(e.getFormattedMessage()).contains("reach PostgreSQL again");
            });
        }
    }

    @Test
    void ownRowRemovedWhileAlive_isReinsertedWithAWarning() throws Exception {
        try (Cluster cluster = new Cluster("reinsert")) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of("k", "v"));
            waiting().until(() -> a.liveCount() == 2);
            Member before = b.self();

            cluster.execute("DELETE FROM " + cluster.schema.name() + ".members WHERE id = '"
                    + b.self().id().uuid() + "'");

            waiting()
                    .until(() -> logs.list.stream()
                            .anyMatch(e -> e.getLevel() == Level.WARN
                                    && e.getFormattedMessage().contains("was gone")));
            assertThat(cluster.rows(b.self().id())).isEqualTo(1);
            assertThat(b.self().started()).isEqualTo(before.started());
            waiting()
                    .until(() -> a.member(b.self().id())
                            .map(m -> m.attributes().equals(Map.of("k", "v")))
                            .orElse(false));
        }
    }

    @Test
    void expiredRows_areRemovedOnlyAfterThreeExpiries() throws Exception {
        try (Cluster cluster = new Cluster("removal")) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            Recorder onA = new Recorder();
            a.onChange(onA);
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());
            waiting().until(() -> onA.events.contains("joined b"));

            long crashed = System.nanoTime();
            cluster.crash(b);

            waiting().until(() -> onA.events.contains("EXPIRED b"));
            assertThat(cluster.rows(b.self().id()))
                    .as("expired, not yet removed")
                    .isEqualTo(1);
            waiting().until(() -> cluster.rows(b.self().id()) == 0);
            Duration kept = Duration.ofNanos(System.nanoTime() - crashed);
            assertThat(kept)
                    .isGreaterThan(EXPIRY.multipliedBy(PostgresMembership.REMOVE_AFTER_EXPIRIES)
                            .minus(INTERVAL));
            assertThat(onA.events).containsExactly("joined b", "EXPIRED b");
        }
    }

    @Test
    void anotherCluster_inTheSameSchema_isInvisible() throws Exception {
        try (Cluster cluster = new Cluster("clusters")) {
            Membership a = cluster.join(ReplicaId.random("a"), "1.0.0", Map.of());
            PostgresMembership stranger = cluster.join(
                    PostgresMembership.builder(cluster.database(cluster.schema.jdbcUrl()), ReplicaId.random("x"))
                            .cluster("other"));
            Membership b = cluster.join(ReplicaId.random("b"), "1.0.0", Map.of());

            waiting().until(() -> a.liveCount() == 2);
            assertThat(a.member(stranger.self().id())).isEmpty();
            assertThat(stranger.members()).extracting(m -> m.id().name()).containsExactly("x");
            assertThat(b.health().details())
                    .containsEntry("backend", "postgres")
                    .containsEntry("cluster", "kit");
        }
    }

    private long errors() {
        return logs.list.stream().filter(e -> e.getLevel() == Level.ERROR).count();
    }

    private static String viaProxy(FaultProxy proxy) {
        TestPostgres server = TestPostgres.server();
        String url = "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + server.database() + "?user="
                + URLEncoder.encode(server.user(), StandardCharsets.UTF_8);
        if (!server.password().isEmpty()) {
            url += "&password=" + URLEncoder.encode(server.password(), StandardCharsets.UTF_8);
        }
        return url;
    }

    /** Records events as "joined name" and "REASON name". */
    static final class Recorder implements MembershipListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void onJoined(Member member) {
            events.add("joined " + member.id().name());
        }

        @Override
        public void onLeft(Member member, LeaveReason reason) {
            events.add(reason + " " + member.id().name());
        }
    }
}
