package dev.chorus.redis;

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

/** Issue 20: the Redis backplane signs by default; running unsigned is an explicit, visible opt-out. */
class RedisSigningIT {

    private final RedisTestCluster cluster = new RedisTestCluster("signing");
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger log = (Logger) LoggerFactory.getLogger(RedisBackplane.class);

    @AfterEach
    void close() throws Exception {
        log.detachAppender(logs);
        cluster.close();
    }

    @Test
    void withoutASecret_refusesToStart_sayingHowToMakeOne() {
        assertThatThrownBy(() -> cluster.replica(cluster.connector(), "plain", b -> b.secret(null)))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("redis backplane needs a cluster secret")
                .hasMessageContaining("openssl rand -base64 32")
                .hasMessageContaining("CHORUS_CLUSTER_SECRET")
                .hasMessageContaining("CHORUS_ALLOW_UNSIGNED=true");
    }

    @Test
    void fromConfigWithTheOptOut_startsUnsigned_warnsAndShowsItInHealth() {
        logs.start();
        log.addAppender(logs);
        ChorusConfig config = ChorusConfig.from(Map.of(
                "CHORUS_BACKPLANE", "redis",
                "REDIS_URL", "redis://127.0.0.1:6379",
                "CHORUS_ALLOW_UNSIGNED", "true")::get);
        RedisBackplane open = RedisBackplane.from(config, cluster.connector(), dev.chorus.ReplicaId.random("open"));
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
        RedisBackplane signed = cluster.replica("signed");
        await().atMost(Duration.ofSeconds(20)).until(() -> signed.health().isHealthy());
        assertThat(signed.health().details())
                .containsEntry("signed", true)
                .containsEntry("replayWindowSeconds", 300L)
                .doesNotContainKey("unsigned");
    }
}
