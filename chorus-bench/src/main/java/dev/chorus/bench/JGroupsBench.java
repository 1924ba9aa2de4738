package dev.chorus.bench;

import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.jgroups.JGroupsBackplane;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Loopback ports, cluster names and Chorus replicas for the jgroups-* scenarios. */
final class JGroupsBench {

    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private JGroupsBench() {}

    /** {@code count} free loopback ports whose failure-detection companions (port + 100) are free too. */
    static List<Integer> freePorts(int count) {
        List<Integer> ports = new ArrayList<>();
        while (ports.size() < count) {
            try (ServerSocket s = new ServerSocket(0, 1, LOOPBACK)) {
                int port = s.getLocalPort();
                if (port + 100 <= 65535 && !ports.contains(port)) {
                    try (ServerSocket companion = new ServerSocket(port + 100, 1, LOOPBACK)) {
                        ports.add(port);
                    } catch (IOException taken) {
                        // another
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return ports;
    }

    static List<InetSocketAddress> addresses(List<Integer> ports) {
        return ports.stream().map(p -> new InetSocketAddress(LOOPBACK, p)).toList();
    }

    static String uniqueCluster(String prefix) {
        return "bench-" + prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Starts Chorus replicas of one TCP-discovery cluster on {@code ports}, one per call, default settings. */
    static java.util.function.Function<String, BenchReplica> replicas(List<Integer> ports) {
        String cluster = uniqueCluster("chorus");
        List<ChorusConfig.HostPort> hosts = ports.stream()
                .map(p -> new ChorusConfig.HostPort(LOOPBACK.getHostAddress(), p))
                .toList();
        int[] next = {0};
        return name -> {
            JGroupsBackplane backplane = JGroupsBackplane.builder(cluster, ReplicaId.random(name))
                    .discovery(ChorusConfig.Discovery.TCP)
                    .bindAddress(LOOPBACK)
                    .port(ports.get(next[0]++))
                    .initialHosts(hosts)
                    .secret(BenchSecret.SECRET)
                    .build();
            return new BenchReplica() {
                @Override
                public Backplane backplane() {
                    return backplane;
                }

                @Override
                public void close() {
                    backplane.close();
                }
            };
        };
    }
}
