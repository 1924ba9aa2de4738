package dev.chorus.jgroups;

import dev.chorus.ChorusConfig.Discovery;
import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.Backplane;
import dev.chorus.testkit.BackplaneCompatibilityKit;
import dev.chorus.testkit.LoopbackPorts;
import dev.chorus.testkit.TestSecrets;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/** Members of one test's JGroups cluster on loopback in TCP mode, each on a free port, with fast timeouts. */
final class JGroupsTestCluster implements BackplaneCompatibilityKit.ClusterFixture {

    static final Duration FAILURE_TIMEOUT = Duration.ofSeconds(2);
    static final Duration SUSPICION_GRACE = Duration.ofSeconds(4);
    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final String name;
    private final @Nullable Secret secret;
    private final List<HostPort> hosts = new CopyOnWriteArrayList<>();
    private final List<JGroupsBackplane> members = new CopyOnWriteArrayList<>();

    JGroupsTestCluster(String prefix, @Nullable Secret secret) {
        this.name = uniqueName(prefix);
        this.secret = secret;
    }

    static String uniqueName(String prefix) {
        return (prefix + "-" + UUID.randomUUID().toString().substring(0, 8)).toLowerCase(java.util.Locale.ROOT);
    }

    String name() {
        return name;
    }

    List<HostPort> hosts() {
        return List.copyOf(hosts);
    }

    /** A free TCP port on loopback whose FD_SOCK2 companion (port + 100) is free too. */
    static int freePort() {
        return LoopbackPorts.free(100);
    }

    /** A builder for a member of cluster {@code cluster} on {@code port} with fast timeouts for tests. */
    static JGroupsBackplane.Builder fast(String cluster, ReplicaId replica, int port, List<HostPort> peers) {
        return JGroupsBackplane.builder(cluster, replica)
                .discovery(Discovery.TCP)
                .bindAddress(LOOPBACK)
                .port(port)
                .initialHosts(peers)
                .failureTimeout(FAILURE_TIMEOUT)
                .suspicionGrace(SUSPICION_GRACE)
                .mergeInterval(Duration.ofMillis(500), Duration.ofMillis(1500))
                .joinTimeout(Duration.ofMillis(1500))
                .secret(TestSecrets.SECRET)
                .faultInjection(true);
    }

    /** This cluster's secret on {@code builder}; a cluster made without one opts out explicitly. */
    private JGroupsBackplane.Builder signing(JGroupsBackplane.Builder builder) {
        return builder.secret(secret).allowUnsigned(secret == null);
    }

    /** Starts a member that lists every member started so far and itself. */
    JGroupsBackplane join(ReplicaId replica, UnaryOperator<JGroupsBackplane.Builder> tweak) {
        int port = freePort();
        hosts.add(new HostPort(LOOPBACK.getHostAddress(), port));
        JGroupsBackplane backplane =
                tweak.apply(signing(fast(name, replica, port, hosts()))).build();
        members.add(backplane);
        return backplane;
    }

    @Override
    public Backplane join() {
        return join(ReplicaId.random("m" + members.size()), b -> b);
    }

    @Override
    public Backplane joinOtherCluster() {
        int port = freePort();
        List<HostPort> peers = new ArrayList<>(hosts);
        peers.add(new HostPort(LOOPBACK.getHostAddress(), port));
        // Lists our members as its peers: only the cluster name keeps the two apart.
        JGroupsBackplane stranger = fast(
                        name + "-other",
                        ReplicaId.random("stranger"),
                        port,
                        List.of(new HostPort(LOOPBACK.getHostAddress(), port)))
                .secret(secret)
                .allowUnsigned(secret == null)
                .build();
        members.add(stranger);
        return stranger;
    }

    @Override
    public Optional<Secret> secret() {
        return Optional.ofNullable(secret);
    }

    @Override
    public Optional<Backplane> joinAt(java.time.Clock clock) {
        return Optional.of(join(ReplicaId.random("m" + members.size()), b -> b.clock(clock)));
    }

    @Override
    public Optional<BackplaneCompatibilityKit.RawInjector> injectRaw() {
        return Optional.of(bytes -> members.get(0).sendRawEnvelope(bytes));
    }

    @Override
    public Optional<BackplaneCompatibilityKit.Faults> faults() {
        return Optional.of(new BackplaneCompatibilityKit.Faults() {
            @Override
            public void disconnect(Backplane backplane) {
                ((JGroupsBackplane) backplane).discard().discardAll(true);
            }

            /*
             * A TCP connection reset is invisible on a mesh: JGroups reconnects and NAKACK2/UNICAST3 retransmit,
             * so nothing is lost and nothing needs repair. What does lose messages is being excluded from the
             * view, so a "kill" cuts the member off until the others have excluded it, then lets it merge back.
             */
            @Override
            public void kill(Backplane backplane) {
                JGroupsBackplane member = (JGroupsBackplane) backplane;
                int size = member.view() == null ? 1 : member.view().size();
                member.discard().discardAll(true);
                org.awaitility.Awaitility.await()
                        .atMost(Duration.ofSeconds(20))
                        .pollInterval(Duration.ofMillis(20))
                        .until(() -> member.view() != null && member.view().size() == 1);
                member.discard().discardAll(false);
                // Back like a reconnected client: merged into the full view, HEALTHY, subscribers told.
                org.awaitility.Awaitility.await()
                        .atMost(Duration.ofSeconds(20))
                        .pollInterval(Duration.ofMillis(20))
                        .until(() ->
                                member.view().size() == size && member.health().isHealthy());
            }

            @Override
            public void freeze(Backplane backplane) {
                // DISCARD keeps the TCP connections open and drops what flows on them: a hung path.
                disconnect(backplane);
            }

            @Override
            public void heal(Backplane backplane) {
                ((JGroupsBackplane) backplane).discard().discardAll(false);
            }
        });
    }

    @Override
    public void close() {
        for (JGroupsBackplane member : members) {
            member.close();
        }
    }
}
