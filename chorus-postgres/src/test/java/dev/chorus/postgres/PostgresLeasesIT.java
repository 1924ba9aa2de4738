package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.LeaseStoreException;
import dev.chorus.leases.Leases;
import dev.chorus.testkit.LeasesCompatibilityKit;
import dev.chorus.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** PostgreSQL leases pass the leases compatibility kit, and keep clusters and failures apart. */
class PostgresLeasesIT extends LeasesCompatibilityKit {

    private static final Duration TTL = Duration.ofSeconds(30);

    @Override
    protected LeaseStoreFixture newStore(String testName) throws Exception {
        return new Store(testName);
    }

    /** One schema; every replica gets its own database handle and pool, as separate processes would. */
    static final class Store implements LeaseStoreFixture {
        final TestPostgres.Schema schema;
        private final List<Runnable> closers = new CopyOnWriteArrayList<>();

        Store(String testName) throws SQLException {
            schema = TestPostgres.server().newSchema("leases_" + testName);
            database().ensureSchema();
        }

        PostgresDatabase database() {
            // The testkit's URL carries currentSchema; harmless, as every statement names the schema.
            PostgresDatabase database = PostgresDatabase.builder(schema.jdbcUrl())
                    .schema(schema.name())
                    .poolSize(2)
                    .build();
            closers.add(0, database::close);
            return database;
        }

        @Override
        public Leases leases(ReplicaId replica) {
            return leases(PostgresLeases.builder(database(), replica).cluster("kit"));
        }

        PostgresLeases leases(PostgresLeases.Builder builder) {
            PostgresLeases leases = builder.build();
            closers.add(0, leases::close);
            return leases;
        }

        @Override
        public void close() {
            closers.forEach(Runnable::run);
            schema.close();
        }
    }

    @Test
    void clusters_onOneSchema_leaseTheSameKeyIndependently() throws Exception {
        try (Store store = new Store("clusters")) {
            ReplicaId id = ReplicaId.random("a");
            PostgresDatabase database = store.database();
            Leases blue = store.leases(PostgresLeases.builder(database, id).cluster("blue"));
            Leases green = store.leases(PostgresLeases.builder(database, id).cluster("green"));
            Leases inKit = store.leases(ReplicaId.random("b"));

            Lease inBlue = blue.tryAcquire("k", TTL).join().orElseThrow();
            Lease inGreen = green.tryAcquire("k", TTL).join().orElseThrow();

            assertThat(inGreen.token()).isNotEqualTo(inBlue.token());
            assertThat(inKit.owner("k").join()).isEmpty(); // the kit's cluster "kit" is a third one
        }
    }

    @Test
    void failingStatement_failsWithTheOperationAndKey() throws Exception {
        try (Store store = new Store("failing")) {
            Leases leases = store.leases(ReplicaId.random("a"));
            Lease lease = leases.tryAcquire("order-17", TTL).join().orElseThrow();
            execute(store, "DROP TABLE " + store.schema.name() + ".leases");

            assertThatThrownBy(() -> leases.tryAcquire("order-17", TTL).join())
                    .isInstanceOf(CompletionException.class)
                    .cause()
                    .isInstanceOfSatisfying(LeaseStoreException.class, e -> {
                        assertThat(e.operation()).isEqualTo("tryAcquire");
                        assertThat(e.key()).isEqualTo("order-17");
                    })
                    .hasMessageContaining("tryAcquire of 'order-17' in cluster 'kit'")
                    .hasMessageContaining("does not exist");
            assertThatThrownBy(() -> leases.renew(lease).join())
                    .cause()
                    .isInstanceOf(LeaseStoreException.class)
                    .hasMessageContaining("renew of 'order-17'");
        }
    }

    @Test
    void closedLeases_refuseWork() throws Exception {
        try (Store store = new Store("closed")) {
            Leases leases = store.leases(ReplicaId.random("a"));
            leases.close();
            leases.close();

            assertThatThrownBy(() -> leases.owner("k").join()).cause().hasMessageContaining("closed");
        }
    }

    @Test
    void releasedRows_areSweptAfterTheRetention() throws Exception {
        try (Store store = new Store("sweep")) {
            ReplicaId id = ReplicaId.random("a");
            Leases leases = store.leases(
                    PostgresLeases.builder(store.database(), id).cluster("kit").retention(Duration.ofMillis(200)));
            Lease old = leases.tryAcquire("old", TTL).join().orElseThrow();
            leases.release(old).join();
            assertThat(count(store, "old"))
                    .as("a released row stays for the retention")
                    .isEqualTo(1);

            await().atMost(Duration.ofSeconds(10)).until(() -> {
                leases.tryAcquire("other", TTL).join(); // sweeps run alongside acquisitions
                return count(store, "old") == 0;
            });
            Lease again = leases.tryAcquire("old", TTL).join().orElseThrow();
            assertThat(again.token()).isGreaterThan(old.token());
            assertThat(leases.owner("other").join()).map(LeaseOwner::holder).contains(id);
        }
    }

    private static void execute(Store store, String sql) throws SQLException {
        try (Connection connection = store.schema.connect();
                Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static int count(Store store, String key) throws SQLException {
        try (Connection connection = store.schema.connect();
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT count(*) FROM " + store.schema.name()
                        + ".leases WHERE cluster = 'kit' AND key = '" + key + "'")) {
            row.next();
            return row.getInt(1);
        }
    }
}
