package dev.chorus.jgroups;

import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig.Discovery;
import dev.chorus.ReplicaId;
import dev.chorus.testkit.TestSecrets;
import java.net.DatagramPacket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.MulticastSocket;
import java.net.NetworkInterface;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * MULTICAST discovery (UDP transport): two members find each other. Runs only where this host delivers its
 * own multicast back to itself on some interface; otherwise it is skipped with the reason, never silently.
 */
class JGroupsMulticastIT {

    private final List<JGroupsBackplane> members = new ArrayList<>();

    @AfterEach
    void stop() {
        members.forEach(JGroupsBackplane::close);
    }

    @Test
    void multicastDiscovery_formsOneView() throws Exception {
        InetAddress group =
                InetAddress.getByName("239.7." + ThreadLocalRandom.current().nextInt(1, 255) + "."
                        + ThreadLocalRandom.current().nextInt(1, 255));
        int mcastPort = JGroupsTestCluster.freePort();
        InetAddress bind = multicastCapableAddress(group, mcastPort);
        String cluster = JGroupsTestCluster.uniqueName("mcast");

        for (int i = 0; i < 2; i++) {
            members.add(JGroupsBackplane.builder(cluster, ReplicaId.random("u" + i))
                    .discovery(Discovery.MULTICAST)
                    .multicastAddress(group)
                    .multicastPort(mcastPort)
                    .secret(TestSecrets.SECRET)
                    .bindAddress(bind)
                    .port(JGroupsTestCluster.freePort())
                    .failureTimeout(JGroupsTestCluster.FAILURE_TIMEOUT)
                    .joinTimeout(Duration.ofMillis(1500))
                    .build());
        }

        for (JGroupsBackplane member : members) {
            await().atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> member.view() != null
                            && member.view().size() == 2
                            && member.health().isHealthy());
        }
    }

    /** An address of an interface on which a datagram sent to {@code group} comes back; aborts if none. */
    private static InetAddress multicastCapableAddress(InetAddress group, int port) throws Exception {
        List<String> tried = new ArrayList<>();
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || !nic.supportsMulticast()) {
                tried.add(nic.getName() + " (down or no MULTICAST flag)");
                continue;
            }
            InetAddress ipv4 = Collections.list(nic.getInetAddresses()).stream()
                    .filter(a -> a instanceof java.net.Inet4Address)
                    .findFirst()
                    .orElse(null);
            if (ipv4 == null) {
                continue;
            }
            try (MulticastSocket socket = new MulticastSocket(port)) {
                socket.setNetworkInterface(nic);
                socket.setLoopbackMode(false);
                socket.setSoTimeout(1000);
                socket.joinGroup(new InetSocketAddress(group, port), nic);
                byte[] probe = "chorus-multicast-probe".getBytes(StandardCharsets.UTF_8);
                socket.send(new DatagramPacket(probe, probe.length, group, port));
                DatagramPacket in = new DatagramPacket(new byte[64], 64);
                socket.receive(in);
                return ipv4;
            } catch (SocketTimeoutException e) {
                tried.add(nic.getName() + " (own datagram not looped back)");
            } catch (Exception e) {
                tried.add(nic.getName() + " (" + e + ")");
            }
        }
        Assumptions.abort("this host does not deliver UDP multicast to " + group + " on any interface " + tried
                + "; MULTICAST discovery not tested here");
        throw new AssertionError("unreachable");
    }
}
