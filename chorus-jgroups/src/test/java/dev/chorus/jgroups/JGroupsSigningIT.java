package dev.chorus.jgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ChorusConfig;
import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.ConfigurationException;
import dev.chorus.ReplicaId;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Issue 20: the JGroups backplane signs and encrypts by default; unsigned is an explicit, visible opt-out. */
class JGroupsSigningIT {

    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger log = (Logger) LoggerFactory.getLogger(JGroupsBackplane.class);

    @AfterEach
    void detach() {
        log.detachAppender(logs);
    }

    @Test
    void withoutASecret_refusesToStart_sayingHowToMakeOne() {
        int port = JGroupsTestCluster.freePort();
        List<HostPort> self = List.of(new HostPort(JGroupsTestCluster.LOOPBACK.getHostAddress(), port));
        assertThatThrownBy(() -> JGroupsTestCluster.fast(
                                JGroupsTestCluster.uniqueName("signing"), ReplicaId.random("plain"), port, self)
                        .secret(null)
                        .build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("jgroups backplane needs a cluster secret")
                .hasMessageContaining("openssl rand -base64 32")
                .hasMessageContaining("CHORUS_CLUSTER_SECRET")
                .hasMessageContaining("CHORUS_ALLOW_UNSIGNED=true");
    }

    @Test
    void fromConfigWithTheOptOut_startsUnsigned_warnsAndShowsItInHealth() {
        logs.start();
        log.addAppender(logs);
        int port = JGroupsTestCluster.freePort();
        String host = JGroupsTestCluster.LOOPBACK.getHostAddress();
        ChorusConfig config = ChorusConfig.from(Map.of(
                "CHORUS_BACKPLANE",
                "jgroups",
                "CHORUS_CHANNEL",
                JGroupsTestCluster.uniqueName("signing").replace('-', '_'),
                "CLUSTER_DISCOVERY",
                "tcp",
                "CLUSTER_INITIAL_HOSTS",
                host + "[" + port + "]",
                "CLUSTER_PORT",
                String.valueOf(port),
                "CLUSTER_BIND_ADDRESS",
                host,
                "CHORUS_ALLOW_UNSIGNED",
                "true")::get);
        try (JGroupsBackplane open = JGroupsBackplane.from(config, ReplicaId.random("open"))) {
            assertThat(logs.list)
                    .filteredOn(e -> e.getLevel() == Level.WARN)
                    .anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("UNSIGNED"))
                    .anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("unauthenticated and unencrypted"));
            await().atMost(Duration.ofSeconds(30)).until(() -> open.health().isHealthy());
            assertThat(open.health().details())
                    .containsEntry("signed", false)
                    .hasEntrySatisfying(
                            "unsigned",
                            v -> assertThat(v.toString())
                                    .contains("anyone who can publish")
                                    .contains("CHORUS_ALLOW_UNSIGNED=true"));
        }
    }
}
