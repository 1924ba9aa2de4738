package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ChorusConfig;
import dev.chorus.ConfigurationException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Issue 20: the PostgreSQL backplane signs by default; running unsigned is an explicit, visible opt-out. */
class PostgresSigningIT {

    private final PgTestCluster cluster = new PgTestCluster("signing");
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger log = (Logger) LoggerFactory.getLogger(PostgresBackplane.class);

    @AfterEach
    void close() throws Exception {
        log.detachAppender(logs);
        cluster.close();
    }

    @Test
    void withoutASecret_refusesToStart_sayingHowToMakeOne() {
        assertThatThrownBy(() -> cluster.replica(cluster.database(), "plain", b -> b.secret(null)))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("postgres backplane needs a cluster secret")
                .hasMessageContaining("openssl rand -base64 32")
                .hasMessageContaining("CHORUS_CLUSTER_SECRET")
                .hasMessageContaining("CHORUS_ALLOW_UNSIGNED=true");
    }

    @Test
    void fromConfigWithTheOptOut_startsUnsigned_warnsAndShowsItInHealth() {
        logs.start();
        log.addAppender(logs);
        ChorusConfig config = ChorusConfig.from(Map.of(
                "CHORUS_BACKPLANE", "postgres",
                "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test",
                "CHORUS_CHANNEL", cluster.channel,
                "CHORUS_ALLOW_UNSIGNED", "true")::get);
        PostgresBackplane open =
                PostgresBackplane.from(config, cluster.database(), dev.chorus.ReplicaId.random("open"));
        try (open) {
            assertThat(logs.list).anySatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.WARN);
                assertThat(e.getFormattedMessage()).contains("UNSIGNED").contains("can inject messages");
            });
            await().atMost(Duration.ofSeconds(20)).until(() -> open.health().isHealthy());
            assertThat(open.health().details())
                    .containsEntry("signed", false)
                    .hasEntrySatisfying(
                            "unsigned",
                            v -> assertThat(v.toString())
                                    .contains("anyone who can publish")
                                    .contains("CHORUS_ALLOW_UNSIGNED=true"));
        }
    }

    @Test
    void signed_showsNoUnsignedWarningAndItsReplayWindow() {
        PostgresBackplane signed = cluster.replica("signed");
        await().atMost(Duration.ofSeconds(20)).until(() -> signed.health().isHealthy());
        assertThat(signed.health().details())
                .containsEntry("signed", true)
                .containsEntry("replayWindowSeconds", 300L)
                .doesNotContainKey("unsigned");
    }
}
