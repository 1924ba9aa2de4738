package dev.chorus.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusException;
import dev.chorus.Secrets;
import dev.chorus.health.Health;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.TestPostgres;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL store keeps the store contract on a real server, runs hooks inside its transactions, migrates safely
 * when replicas start together, fails start clearly and reports an unreachable database in its health.
 */
class PostgresResourceStoreIT extends ResourceStoreContract {

    /** Trust authentication ignores it; it is here so the tests can see it masked. */
    private static final String FAKE_PASSWORD = "hunter2-never-logged";

    private final List<PostgresResourceStore> opened = new CopyOnWriteArrayList<>();
    private final List<String> schemas = new CopyOnWriteArrayList<>();

    @Override
    protected ResourceStore newStore() {
        return open(serverUrl(), freshSchema("contract"));
    }

    @AfterEach
    void dropSchemas() throws SQLException {
        opened.forEach(PostgresResourceStore::close);
        try (Connection connection = TestPostgres.server().connect();
                Statement statement = connection.createStatement()) {
            // A connection left in a transaction by the code under test must fail this test, not hang the build.
            statement.execute("SET lock_timeout = '10s'");
            for (String schema : schemas) {
                statement.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
            }
        }
    }

    @Test
    void describesItself() {
        assertThat(store.kind()).isEqualTo("postgres");
        assertThat(store.transactional()).isTrue();
    }

    @Test
    void aHookThatThrows_rollsTheUpdateBack() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);
        IllegalStateException boom = new IllegalStateException("boom");

        assertThatThrownBy(() -> store.put(KEY, json("{\"a\":2}"), Precondition.NONE, transaction -> {
                    throw boom;
                }))
                .isSameAs(boom);
        assertThatThrownBy(() -> store.put(KEY, json("{\"a\":3}"), Precondition.version(1), transaction -> {
                    throw new SQLException("outbox full");
                }))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("Could not put resource widgets/w-1 of tenant 'acme'")
                .hasMessageContaining("transaction hook failed")
                .hasMessageContaining("outbox full");

        assertThat(store.get(KEY)).get().satisfies(read -> {
            assertThat(read.version()).isEqualTo(1);
            assertThat(text(read)).isEqualTo("{\"a\":1}");
        });
        assertThat(store.put(KEY, json("{\"a\":4}"), Precondition.version(1), TransactionHook.NONE)
                        .version())
                .isEqualTo(2);
    }

    @Test
    void aHookThatThrows_rollsTheCreateAndTheDeleteBack() {
        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.ABSENT, transaction -> {
                    throw new IllegalStateException("boom");
                }))
                .hasMessage("boom");
        assertThat(store.get(KEY)).isEmpty();
        assertThat(store.put(KEY, json("{\"a\":1}"), Precondition.ABSENT, TransactionHook.NONE)
                        .version())
                .as("no tombstone was left behind")
                .isEqualTo(1);

        assertThatThrownBy(() -> store.delete(KEY, Precondition.NONE, transaction -> {
                    throw new IllegalStateException("boom");
                }))
                .hasMessage("boom");
        assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(1L);
    }

    @Test
    void theHook_runsInsideTheWritingTransaction() throws SQLException {
        String schema = ((PostgresResourceStore) store).schema();
        createHookLog(schema);
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);
        AtomicLong seenInside = new AtomicLong();
        AtomicLong seenOutside = new AtomicLong();

        store.put(KEY, json("{\"a\":2}"), Precondition.version(1), transaction -> {
            logNote(transaction, schema, "put");
            seenInside.set(versionIn(transaction, schema));
            try (Connection other = TestPostgres.server().connect()) {
                seenOutside.set(versionIn(other, schema));
            }
        });

        assertThat(seenInside).as("the hook sees the write").hasValue(2);
        assertThat(seenOutside).as("nobody else sees it before the commit").hasValue(1);
        assertThat(notes(schema)).containsExactly("put");

        store.delete(KEY, Precondition.version(2), transaction -> logNote(transaction, schema, "delete"));
        assertThat(notes(schema)).containsExactly("put", "delete");
    }

    @Test
    void theHooksWork_isGoneWhenALaterFailureRollsBack() throws SQLException {
        String schema = ((PostgresResourceStore) store).schema();
        createHookLog(schema);
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);

        assertThatThrownBy(() -> store.put(KEY, json("{\"a\":2}"), Precondition.NONE, transaction -> {
                    logNote(transaction, schema, "announced");
                    throw new IllegalStateException("failed after announcing");
                }))
                .hasMessage("failed after announcing");

        assertThat(notes(schema)).isEmpty();
        assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(1L);
    }

    @Test
    void aFailedPrecondition_neverCallsTheHook() {
        AtomicInteger calls = new AtomicInteger();
        TransactionHook counting = transaction -> calls.incrementAndGet();

        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.PRESENT, counting))
                .isInstanceOf(PreconditionFailedException.class);
        store.put(KEY, json("{}"), Precondition.NONE, counting);
        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.ABSENT, counting))
                .isInstanceOf(PreconditionFailedException.class);
        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.version(9), counting))
                .isInstanceOf(PreconditionFailedException.class);
        assertThatThrownBy(() -> store.delete(KEY, Precondition.version(9), counting))
                .isInstanceOf(PreconditionFailedException.class);
        store.delete(KEY, Precondition.version(1), counting);
        store.delete(KEY, Precondition.NONE, counting);

        assertThat(calls).as("one successful put and one real delete").hasValue(2);
    }

    @Test
    void threeReplicasStartingTogether_onAFreshSchema_allMigrate() throws Exception {
        String schema = freshSchema("migrate");
        TestPostgres server = TestPostgres.server();
        String credentials = encode(server.user()) + ":" + encode(password(server));
        String hostPortDb = server.host() + ":" + server.port() + "/" + encode(server.database());
        // One URL form per replica, so each form is also shown to reach a real server.
        List<String> urls = List.of(
                "postgres://" + credentials + "@" + hostPortDb,
                "postgresql://" + credentials + "@" + hostPortDb,
                "jdbc:postgresql://" + hostPortDb + "?user=" + encode(server.user()) + "&password="
                        + encode(password(server)));
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService starters = Executors.newFixedThreadPool(urls.size());
        List<PostgresResourceStore> replicas = new ArrayList<>();
        try {
            List<Future<PostgresResourceStore>> starts = new ArrayList<>();
            for (String url : urls) {
                starts.add(starters.submit(() -> {
                    go.await();
                    return track(PostgresResourceStore.builder(url)
                            .schema(schema)
                            .poolSize(2)
                            .build());
                }));
            }
            go.countDown();
            for (Future<PostgresResourceStore> start : starts) {
                replicas.add(start.get(60, TimeUnit.SECONDS));
            }
        } finally {
            starters.shutdownNow();
        }

        try (Connection connection = TestPostgres.server().connect();
                Statement statement = connection.createStatement();
                ResultSet applied = statement.executeQuery(
                        "SELECT count(*) FROM " + schema + ".flyway_schema_history WHERE version = '1' AND success")) {
            applied.next();
            assertThat(applied.getInt(1)).as("V1 applied exactly once").isEqualTo(1);
        }
        replicas.get(0).put(KEY, json("{\"from\":0}"), Precondition.NONE, TransactionHook.NONE);
        replicas.get(1).put(KEY, json("{\"from\":1}"), Precondition.version(1), TransactionHook.NONE);
        assertThat(replicas.get(2).get(KEY)).get().satisfies(read -> {
            assertThat(read.version()).isEqualTo(2);
            assertThat(text(read)).isEqualTo("{\"from\":1}");
        });
    }

    @Test
    void aSchemaMadeInAdvance_isMigratedAndUsed() {
        try (TestPostgres.Schema existing = TestPostgres.server().newSchema("store_existing")) {
            PostgresResourceStore inExisting = open(serverUrl(), existing.name());

            assertThat(inExisting
                            .put(KEY, json("{}"), Precondition.ABSENT, TransactionHook.NONE)
                            .version())
                    .isEqualTo(1);
            inExisting.close();
        }
    }

    @Test
    void aSchemaHoldingSomethingElse_failsStart_namingIt() throws SQLException {
        String schema = freshSchema("foreign");
        try (Connection connection = TestPostgres.server().connect();
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
            statement.execute("CREATE TABLE " + schema + ".orders (id int)");
        }

        assertThatThrownBy(() -> open(serverUrl(), schema))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("migrating schema '" + schema + "'")
                .hasMessageContaining("flyway_schema_history");
    }

    @Test
    void anUnreachableDatabase_failsStart_namingTheMaskedUrlAndWhatToCheck() {
        String url = "postgres://chorus:" + FAKE_PASSWORD + "@127.0.0.1:1/test";

        assertThatThrownBy(() -> PostgresResourceStore.builder(url)
                        .connectTimeout(Duration.ofSeconds(1))
                        .build())
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("postgres://chorus:****@127.0.0.1:1/test")
                .hasMessageContaining("Check that PostgreSQL is running")
                .hasMessageNotContaining(FAKE_PASSWORD);
        assertThatThrownBy(() -> PostgresResourceStore.builder(
                                "jdbc:postgresql://127.0.0.1:1/test?user=chorus&password=" + FAKE_PASSWORD)
                        .connectTimeout(Duration.ofSeconds(1))
                        .build())
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("jdbc:postgresql://127.0.0.1:1/test?user=chorus&password=****")
                .hasMessageNotContaining(FAKE_PASSWORD);
    }

    @Test
    void aMissingDatabase_failsStart_namingIt() {
        TestPostgres server = TestPostgres.server();
        String url = "postgres://" + encode(server.user()) + ":" + encode(password(server)) + "@" + server.host() + ":"
                + server.port() + "/chorus_no_such_database";

        assertThatThrownBy(() -> PostgresResourceStore.builder(url).build())
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining(Secrets.maskUrl(url))
                .hasMessageContaining("chorus_no_such_database")
                .hasMessageContaining("that the database exists");
    }

    @Test
    void badSettings_areRejected_namingTheInputAndTheFix() {
        assertThatThrownBy(() -> PostgresResourceStore.builder("mysql://u:" + FAKE_PASSWORD + "@db/x"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("mysql://u:****@db/x")
                .hasMessageContaining("postgres://")
                .hasMessageNotContaining(FAKE_PASSWORD);
        assertThatThrownBy(
                        () -> PostgresResourceStore.builder("postgres://db/x").schema("Chorus; DROP TABLE x"))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("Chorus; DROP TABLE x")
                .hasMessageContaining("lower-case");
        assertThatThrownBy(
                        () -> PostgresResourceStore.builder("postgres://db/x").poolSize(0))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("at least 1");
        assertThatThrownBy(
                        () -> PostgresResourceStore.builder("postgres://db/x").connectTimeout(Duration.ofMillis(10)))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("250 ms");
    }

    @Test
    void health_goesDownWhileTheDatabaseIsUnreachable_andComesBack() {
        TestPostgres server = TestPostgres.server();
        try (FaultProxy proxy = FaultProxy.start(server.host(), server.port())) {
            String url = "postgres://" + encode(server.user()) + ":" + encode(password(server)) + "@" + proxy.host()
                    + ":" + proxy.port() + "/" + encode(server.database());
            PostgresResourceStore viaProxy = track(PostgresResourceStore.builder(url)
                    .schema(freshSchema("health"))
                    .poolSize(2)
                    .connectTimeout(Duration.ofSeconds(1))
                    .healthInterval(Duration.ofMillis(100))
                    .build());
            viaProxy.put(KEY, json("{}"), Precondition.NONE, TransactionHook.NONE);
            assertThat(viaProxy.health().isHealthy()).isTrue();
            assertThat(viaProxy.health().details())
                    .containsEntry("kind", "postgres")
                    .containsEntry("url", Secrets.maskUrl(url));

            proxy.refuse(true);
            proxy.cut();

            waiting().until(() -> viaProxy.health().status() == Health.Status.DOWN);
            assertThat(viaProxy.health().reason()).contains("cannot reach PostgreSQL at " + Secrets.maskUrl(url));
            assertThat(viaProxy.health().details()).containsEntry("kind", "postgres");
            assertThatThrownBy(() -> viaProxy.get(KEY))
                    .isInstanceOf(ChorusException.class)
                    .hasMessageContaining("Could not get resource widgets/w-1 of tenant 'acme' in PostgreSQL at "
                            + Secrets.maskUrl(url));

            proxy.heal();

            waiting().until(() -> viaProxy.health().isHealthy());
            assertThat(viaProxy.get(KEY)).isPresent();
        }
    }

    @Test
    void close_isIdempotent_andRefusesLaterCalls() {
        PostgresResourceStore postgres = (PostgresResourceStore) store;

        postgres.close();
        postgres.close();

        assertThat(postgres.health().status()).isEqualTo(Health.Status.DOWN);
        assertThat(postgres.health().reason()).contains("closed");
        assertThatThrownBy(() -> postgres.put(KEY, json("{}"), Precondition.NONE, TransactionHook.NONE))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("is closed");
    }

    private PostgresResourceStore open(String url, String schema) {
        return track(PostgresResourceStore.builder(url)
                .schema(schema)
                // The contract's race runs eight writers at once; let none of them wait for a connection.
                .poolSize(WRITERS + 2)
                .build());
    }

    private PostgresResourceStore track(PostgresResourceStore store) {
        opened.add(store);
        return store;
    }

    /** A schema name nobody uses yet; the store creates it and the test drops it. */
    private String freshSchema(String hint) {
        String schema = "t_store_" + hint + "_"
                + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        schemas.add(schema);
        return schema;
    }

    private static String serverUrl() {
        return TestPostgres.server().jdbcUrl();
    }

    private static String password(TestPostgres server) {
        return server.password().isEmpty() ? FAKE_PASSWORD : server.password();
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private static ConditionFactory waiting() {
        return await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20));
    }

    private static void createHookLog(String schema) throws SQLException {
        try (Connection connection = TestPostgres.server().connect();
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE " + schema + ".hook_log (seq serial PRIMARY KEY, note text NOT NULL)");
        }
    }

    private static void logNote(Connection transaction, String schema, String note) throws SQLException {
        try (PreparedStatement insert =
                transaction.prepareStatement("INSERT INTO " + schema + ".hook_log (note) VALUES (?)")) {
            insert.setString(1, note);
            insert.executeUpdate();
        }
    }

    private static List<String> notes(String schema) throws SQLException {
        List<String> notes = new ArrayList<>();
        try (Connection connection = TestPostgres.server().connect();
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT note FROM " + schema + ".hook_log ORDER BY seq")) {
            while (rows.next()) {
                notes.add(rows.getString(1));
            }
        }
        return notes;
    }

    private static long versionIn(Connection connection, String schema) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT version FROM " + schema + ".resources WHERE tenant = ? AND type = ? AND id = ?")) {
            select.setString(1, KEY.tenant());
            select.setString(2, KEY.type());
            select.setString(3, KEY.id());
            try (ResultSet row = select.executeQuery()) {
                return row.next() ? row.getLong(1) : 0;
            }
        }
    }
}
