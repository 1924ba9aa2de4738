package dev.chorus.bench;

import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NearCacheConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.partition.Partition;
import com.hazelcast.spi.properties.ClusterProperty;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Two embedded Hazelcast members in this JVM, A and B, joined over TCP on loopback; an {@code IMap} with a
 * near cache on each. A writes with {@code set}, B reads through its near cache, and the partition owner's
 * invalidation (batched or not, as configured) removes B's stale entry.
 */
final class HazelcastSubject implements PropagationSubject {

    static final String DEFAULTS = "hazelcast near cache (defaults)";
    static final String BATCHING_OFF = "hazelcast near cache (batching off)";

    private static final String MAP = "bench-propagation";
    private static final long JOIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final String name;
    private final HazelcastInstance a;
    private final HazelcastInstance b;
    private final IMap<String, Long> mapA;
    private final IMap<String, Long> mapB;

    private HazelcastSubject(String name, HazelcastInstance a, HazelcastInstance b) {
        this.name = name;
        this.a = a;
        this.b = b;
        this.mapA = a.getMap(MAP);
        this.mapB = b.getMap(MAP);
    }

    /**
     * Starts both members; {@code batching} false sends every near cache invalidation at once instead of
     * batching them ({@code hazelcast.map.invalidation.batch.enabled}).
     */
    static HazelcastSubject start(boolean batching) {
        String cluster =
                "chorus-bench-" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
        int[] ports = freePorts(2);
        HazelcastInstance a = Hazelcast.newHazelcastInstance(config(cluster, ports, 0, batching));
        try {
            HazelcastInstance b = Hazelcast.newHazelcastInstance(config(cluster, ports, 1, batching));
            HazelcastSubject subject = new HazelcastSubject(batching ? DEFAULTS : BATCHING_OFF, a, b);
            subject.awaitCluster();
            return subject;
        } catch (RuntimeException e) {
            a.shutdown();
            throw e;
        }
    }

    private static Config config(String cluster, int[] ports, int self, boolean batching) {
        Config config = new Config();
        config.setClusterName(cluster);
        config.setInstanceName(cluster + "-" + (self == 0 ? "a" : "b"));
        config.setProperty(ClusterProperty.LOGGING_TYPE.getName(), "slf4j");
        // Never reach outside this machine: no phone home, no cloud auto-detection, no multicast, loopback only.
        config.setProperty(ClusterProperty.PHONE_HOME_ENABLED.getName(), "false");
        config.setProperty(ClusterProperty.SOCKET_BIND_ANY.getName(), "false");
        // Startup only: members otherwise wait 5 s for others before forming the cluster.
        config.setProperty(ClusterProperty.WAIT_SECONDS_BEFORE_JOIN.getName(), "0");
        if (!batching) {
            config.setProperty(ClusterProperty.MAP_INVALIDATION_MESSAGE_BATCH_ENABLED.getName(), "false");
        }
        NetworkConfig network = config.getNetworkConfig();
        network.setPort(ports[self]).setPortAutoIncrement(false);
        network.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true);
        for (int port : ports) {
            join.getTcpIpConfig().addMember("127.0.0.1:" + port);
        }
        NearCacheConfig nearCache = new NearCacheConfig()
                .setInvalidateOnChange(true)
                .setInMemoryFormat(InMemoryFormat.OBJECT)
                .setCacheLocalEntries(false);
        config.addMapConfig(new MapConfig(MAP).setNearCacheConfig(nearCache));
        return config;
    }

    /** Ports free a moment ago, so two runs on one machine never join each other's members. */
    private static int[] freePorts(int count) {
        int[] ports = new int[count];
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(socket);
                ports[i] = socket.getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (ServerSocket socket : sockets) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // Only a probe.
                }
            }
        }
    }

    /** Waits until both members see each other and every partition has its owner and backup in place. */
    private void awaitCluster() {
        long deadline = System.nanoTime() + JOIN_TIMEOUT_NANOS;
        while (a.getCluster().getMembers().size() < 2
                || b.getCluster().getMembers().size() < 2
                || !a.getPartitionService().isClusterSafe()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("Hazelcast members did not form a safe two-member cluster");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String notes() {
        return "keys owned by A";
    }

    /**
     * Keys whose partition A owns. With {@code cacheLocalEntries} false, B keeps no near cache entry for a key
     * it owns and reads it from its own partition, which measures no propagation at all; for a key A owns,
     * B's read is a near cache hit until A's invalidation reaches it.
     */
    @Override
    public List<String> keys(int count) {
        List<String> keys = new ArrayList<>(count);
        for (int i = 0; keys.size() < count; i++) {
            if (i > count * 100) {
                throw new IllegalStateException("member A owns almost no partitions");
            }
            String key = "key-" + i;
            Partition partition = a.getPartitionService().getPartition(key);
            if (partition.getOwner() != null && partition.getOwner().localMember()) {
                keys.add(key);
            }
        }
        return keys;
    }

    @Override
    public void write(String key, long version) {
        mapA.set(key, version);
    }

    @Override
    public long read(String key) {
        Long version = mapB.get(key);
        return version == null ? -1 : version;
    }

    @Override
    public void close() {
        b.shutdown();
        a.shutdown();
    }
}
