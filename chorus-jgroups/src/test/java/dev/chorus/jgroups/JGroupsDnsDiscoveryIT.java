package dev.chorus.jgroups;

import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig.Discovery;
import dev.chorus.ReplicaId;
import dev.chorus.testkit.TestSecrets;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import javax.naming.directory.InitialDirContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * DNS discovery against a real DNS server: dnsmasq on a loopback port, serving A records (a headless Service
 * lists pod addresses) and SRV records (with ports). Skipped with the reason when dnsmasq is not installed.
 */
class JGroupsDnsDiscoveryIT {

    private static final String DOMAIN = "chorus.test";

    private Process dnsmasq;
    private final List<JGroupsBackplane> members = new ArrayList<>();

    @AfterEach
    void stop() {
        TestDomainResolver.server = null;
        members.forEach(JGroupsBackplane::close);
        if (dnsmasq != null) {
            dnsmasq.destroyForcibly();
        }
    }

    @Test
    void aRecords_likeAHeadlessService_findEveryMember() throws Exception {
        int port = JGroupsTestCluster.freePort();
        List<InetAddress> addresses = List.of(
                InetAddress.getByName("127.0.0.1"),
                InetAddress.getByName("127.0.0.2"),
                InetAddress.getByName("127.0.0.3"));
        for (InetAddress address : addresses) {
            try (var probe = new java.net.ServerSocket(port, 1, address)) {
                // every pod address must be bindable on this host
            } catch (IOException e) {
                Assumptions.abort("cannot bind " + address + ":" + port + " (loopback aliases unavailable): " + e);
            }
        }
        StringBuilder hosts = new StringBuilder();
        for (InetAddress address : addresses) {
            hosts.append(address.getHostAddress())
                    .append(" members.")
                    .append(DOMAIN)
                    .append('\n');
        }
        String server = startDnsmasq(hosts.toString(), List.of());
        String cluster = JGroupsTestCluster.uniqueName("dns-a");

        for (int i = 0; i < 3; i++) {
            members.add(dnsMember(cluster, "a" + i, addresses.get(i), port, "members." + DOMAIN, server));
        }

        awaitOneViewOf(3);
    }

    @Test
    void srvRecords_withPorts_findEveryMember() throws Exception {
        int[] ports = {JGroupsTestCluster.freePort(), JGroupsTestCluster.freePort(), JGroupsTestCluster.freePort()};
        StringBuilder hosts = new StringBuilder();
        List<String> srv = new ArrayList<>();
        // JGroups resolves SRV targets with the system resolver (in Kubernetes, the cluster DNS), not with the
        // server it asked for the SRV records: TestDomainResolver sends the JVM's lookups of the test domain here.
        for (int i = 0; i < ports.length; i++) {
            hosts.append("127.0.0.1 node").append(i).append('.').append(DOMAIN).append('\n');
            srv.add("--srv-host=_chorus._tcp." + DOMAIN + ",node" + i + "." + DOMAIN + "," + ports[i]);
        }
        String server = startDnsmasq(hosts.toString(), srv);
        TestDomainResolver.server = server;
        String cluster = JGroupsTestCluster.uniqueName("dns-srv");

        for (int i = 0; i < 3; i++) {
            members.add(dnsMember(
                    cluster, "s" + i, JGroupsTestCluster.LOOPBACK, ports[i], "_chorus._tcp." + DOMAIN, server));
        }

        awaitOneViewOf(3);
    }

    private void awaitOneViewOf(int size) {
        for (JGroupsBackplane member : members) {
            await().atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> member.view() != null
                            && member.view().size() == size
                            && member.health().isHealthy());
        }
    }

    private static JGroupsBackplane dnsMember(
            String cluster, String name, InetAddress bind, int port, String query, String server) {
        return JGroupsBackplane.builder(cluster, ReplicaId.random(name))
                .discovery(Discovery.DNS)
                .dnsQuery(query)
                .dnsServer(server)
                .secret(TestSecrets.SECRET)
                .bindAddress(bind)
                .port(port)
                .failureTimeout(JGroupsTestCluster.FAILURE_TIMEOUT)
                .mergeInterval(Duration.ofMillis(500), Duration.ofMillis(1500))
                .joinTimeout(Duration.ofMillis(1500))
                .build();
    }

    /** Starts dnsmasq on a free loopback port serving {@code hosts} and SRV records; returns {@code host:port}. */
    private String startDnsmasq(String hosts, List<String> srvRecords) throws Exception {
        Path binary = List.of(Path.of("/usr/sbin/dnsmasq"), Path.of("/usr/bin/dnsmasq")).stream()
                .filter(Files::isExecutable)
                .findFirst()
                .orElse(null);
        if (binary == null) {
            Assumptions.abort("dnsmasq is not installed (apt-get install -y dnsmasq); DNS discovery not tested");
        }
        int port;
        try (DatagramSocket s = new DatagramSocket(0, JGroupsTestCluster.LOOPBACK)) {
            port = s.getLocalPort();
        }
        Path dir = Files.createTempDirectory("chorus-dns");
        Path hostsFile = dir.resolve("hosts");
        Files.writeString(hostsFile, hosts);
        dir.toFile().setReadable(true, false);
        dir.toFile().setExecutable(true, false);
        hostsFile.toFile().setReadable(true, false);
        List<String> command = new ArrayList<>(List.of(
                binary.toString(),
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",
                "--user=" + System.getProperty("user.name"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--port=" + port,
                "--addn-hosts=" + hostsFile,
                "--log-facility=-"));
        command.addAll(srvRecords);
        dnsmasq = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("log").toFile())
                .start();
        String server = "127.0.0.1:" + port;
        Hashtable<String, String> env = new Hashtable<>();
        env.put("java.naming.factory.initial", "com.sun.jndi.dns.DnsContextFactory");
        env.put("java.naming.provider.url", "dns://" + server);
        try {
            await().atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(100))
                    .ignoreExceptions()
                    .until(() -> {
                        if (!dnsmasq.isAlive()) {
                            throw new IllegalStateException("dnsmasq exited: " + Files.readString(dir.resolve("log")));
                        }
                        InitialDirContext ctx = new InitialDirContext(env);
                        String name = srvRecords.isEmpty() ? "members." + DOMAIN : "_chorus._tcp." + DOMAIN;
                        return ctx.getAttributes(name, new String[] {srvRecords.isEmpty() ? "A" : "SRV"})
                                        .size()
                                > 0;
                    });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            Assumptions.abort("dnsmasq did not answer on " + server + ": " + Files.readString(dir.resolve("log")));
        }
        return server;
    }
}
