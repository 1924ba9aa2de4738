package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.chorus.Backoff;
import dev.chorus.server.agents.AgentClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Agents on three replica processes (PostgreSQL backplane and leases): a config dispatched through one
 * replica reaches the agent on another and is acknowledged; when the agent's replica is killed the agent
 * reconnects elsewhere and dispatch works again; a draining replica closes its sockets with 1012 and exits
 * 0; the cluster view and the automatic check see every replica.
 */
class AgentsClusterIT {

    private static final Logger LOG = LoggerFactory.getLogger(AgentsClusterIT.class);

    private final List<ServerProcess> replicas = new ArrayList<>();
    private final List<AutoCloseable> clients = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable client : clients) {
            client.close();
        }
        for (ServerProcess replica : replicas) {
            replica.close();
        }
    }

    private ServerProcess start(String name, Map<String, String> env) throws Exception {
        ServerProcess replica = ServerProcess.start(name, env);
        replicas.add(replica);
        return replica;
    }

    @Test
    void aConfigReachesTheAgentWhereverItIsConnectedAndSurvivesItsReplica() throws Exception {
        Map<String, String> env = TestClients.sharedStorage("agt", "postgres");
        ServerProcess a = start("a", env);
        ServerProcess b = start("b", env);
        ServerProcess c = start("c", env);
        Api apiA = new Api(a.uri());
        Api apiC = new Api(c.uri());
        for (Api api : List.of(apiA, apiC)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> api.liveMembers() == 3);
        }
        String writer = apiA.token(TestClients.WRITER, TestClients.SECRET);
        String operator = apiA.token(TestClients.OPERATOR, TestClients.SECRET);

        List<JsonNode> applied = new CopyOnWriteArrayList<>();
        AgentClient agent = new AgentClient(
                        "agent-1",
                        List.of(b.uri(), c.uri()),
                        () -> new Api(a.uri()).token(TestClients.AGENT, TestClients.SECRET),
                        config -> {
                            applied.add(config);
                            return null;
                        },
                        new Backoff(Duration.ofMillis(50), Duration.ofMillis(500)))
                .start();
        clients.add(agent);
        await().atMost(Duration.ofSeconds(20)).until(agent::isConnected);
        assertThat(agent.connectedTo()).isEqualTo(b.uri().toString());

        Api.Response delivered = apiA.put("/api/agents/agent-1/config", writer, "{\"level\":1}");
        assertThat(delivered.status()).isEqualTo(200);
        assertThat(delivered.json().path("outcome").asText()).isEqualTo("DELIVERED");
        assertThat(delivered.json().path("replica").asText()).startsWith("b/");
        assertThat(applied).extracting(n -> n.path("level").asInt()).containsExactly(1);

        JsonNode listed = apiC.get("/api/agents", writer).json();
        assertThat(listed.path("agents").get(0).path("id").asText()).isEqualTo("agent-1");
        assertThat(listed.path("agents").get(0).path("replica").asText()).startsWith("b/");
        assertThat(apiA.put("/api/agents/nobody/config", writer, "{}").status()).isEqualTo(404);

        JsonNode cluster = apiA.get("/api/cluster", writer).json();
        assertThat(cluster.path("live").asInt()).isEqualTo(3);
        JsonNode verify = apiA.get("/api/cluster/verify", operator).json();
        assertThat(verify.path("passed").asBoolean()).as(verify.toString()).isTrue();

        // kill -9 the agent's replica: the agent reconnects to C and the next dispatch is delivered there.
        long killedAt = System.nanoTime();
        b.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    Api.Response again = apiA.put("/api/agents/agent-1/config?timeout=1s", writer, "{\"level\":2}");
                    return again.status() == 200;
                });
        LOG.info(
                "Agent dispatchable again {} ms after its replica was killed",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt));
        assertThat(agent.connectedTo()).isEqualTo(c.uri().toString());
        assertThat(applied).extracting(n -> n.path("level").asInt()).contains(2);
    }

    @Test
    void aDrainingReplicaClosesItsSocketsWithServiceRestartAndExitsZero() throws Exception {
        Map<String, String> env = TestClients.sharedStorage("agt", "postgres");
        env.put("CHORUS_DRAIN_DELAY", "1s");
        ServerProcess a = start("a", env);
        Api api = new Api(a.uri());
        String reader = api.token(TestClients.READER, TestClients.SECRET);
        EventsClient events = EventsClient.connect(a.uri(), reader, null);
        clients.add(events);

        a.terminate();
        await().atMost(Duration.ofSeconds(5))
                .until(() -> api.get("/health/ready").status() == 503);
        assertThat(api.get("/health/ready").json().path("reason").asText()).contains("draining");
        assertThat(events.awaitClose()).isEqualTo(1012);
        assertThat(events.closeReason()).contains("ServiceShuttingDown");
        assertThat(a.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(a.process().exitValue()).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> a.printed("Drained; exiting"));
    }
}
