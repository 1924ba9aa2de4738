package dev.chorus.server.agents;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ReplicaId;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.local.LocalCluster;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.Sessions;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Issue 19: a config an agent never acknowledges is answered TIMEOUT and forgotten, not kept for ever. */
class AgentSessionsTest {

    private final LocalCluster cluster = LocalCluster.create("agents_test");
    private final LocalCluster.LocalReplica replica = cluster.join(ReplicaId.random("a"));
    private final Sessions sessions = Sessions.builder(replica.backplane(), replica.leases())
            .membership(replica.membership())
            .build();
    private final ClusterCalls calls = new ClusterCalls(replica.backplane(), replica.membership());
    private final AgentSessions agents = new AgentSessions(sessions, calls, new ObjectMapper(), Duration.ofMillis(300));

    @AfterEach
    void close() {
        agents.close();
        calls.close();
        sessions.close();
        replica.close();
    }

    @Test
    void aConfigNeverAcknowledged_isAnsweredTimeout_andForgotten() throws Exception {
        List<String> sent = new CopyOnWriteArrayList<>();
        AgentSessions.Agent agent = agents.connect("acme", "silent", new AgentSessions.Link() {
                    @Override
                    public void send(String frame) {
                        sent.add(frame); // and never answers
                    }

                    @Override
                    public void close(int code, String reason) {}
                })
                .get(10, TimeUnit.SECONDS);

        DispatchResult result = agents.dispatch(
                        "acme", "silent", "{\"level\":1}".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(20))
                .toCompletableFuture()
                .get(30, TimeUnit.SECONDS);

        assertThat(sent).hasSize(1);
        assertThat(result.outcome()).isEqualTo(DispatchResult.Outcome.REJECTED);
        assertThat(result.reason()).startsWith("TIMEOUT").contains("did not acknowledge");
        assertThat(agent.pending()).isZero();
    }
}
