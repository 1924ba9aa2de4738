package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.membership.Member;
import dev.chorus.membership.MembershipListener;
import dev.chorus.testkit.ChildJvm;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A member in another JVM: seen joining, seen EXPIRED after {@code kill -9}, seen LEFT after a clean exit. */
class RedisMembershipProcessIT {

    private static final Logger LOG = LoggerFactory.getLogger(RedisMembershipProcessIT.class);
    private static final Duration SLACK = Duration.ofSeconds(2);

    private RedisTestCluster cluster;
    private RedisMembership parent;
    private final Map<UUID, MembershipListener.LeaveReason> left = new ConcurrentHashMap<>();
    private final Map<UUID, Member> joined = new ConcurrentHashMap<>();
    private final List<ChildJvm> children = new CopyOnWriteArrayList<>();

    @BeforeEach
    void joinParent() {
        cluster = new RedisTestCluster("m-process");
        parent = RedisMembership.builder(cluster.connector(), ReplicaId.random("parent"))
                .heartbeatInterval(RedisMembershipIT.INTERVAL)
                .expiry(RedisMembershipIT.EXPIRY)
                .build();
        parent.onChange(new MembershipListener() {
            @Override
            public void onJoined(Member member) {
                joined.put(member.id().uuid(), member);
            }

            @Override
            public void onLeft(Member member, LeaveReason reason) {
                left.put(member.id().uuid(), reason);
            }
        });
    }

    @AfterEach
    void stop() throws Exception {
        for (ChildJvm child : children) {
            child.close();
        }
        parent.close();
        cluster.close();
    }

    @Test
    void killedChild_isSeenAsExpiredWithinTheExpiry() throws Exception {
        ChildJvm child = start("killed");
        await().atMost(SLACK).until(() -> joined.containsKey(child.id()));
        assertThat(joined.get(child.id()).id().name()).isEqualTo("killed");

        assertThat(left).doesNotContainKey(child.id());
        long killed = System.nanoTime();
        child.kill(); // SIGKILL on Linux: no shutdown hooks, no goodbye

        Duration allowed = RedisMembershipIT.EXPIRY
                .plus(RedisMembershipIT.INTERVAL.multipliedBy(2))
                .plus(SLACK);
        await().atMost(allowed).pollInterval(Duration.ofMillis(10)).until(() -> left.containsKey(child.id()));
        Duration seenAfter = Duration.ofNanos(System.nanoTime() - killed);
        LOG.info("Killed child seen {} after {} ms", left.get(child.id()), seenAfter.toMillis());
        assertThat(left.get(child.id())).isEqualTo(MembershipListener.LeaveReason.EXPIRED);
        assertThat(parent.member(ReplicaId.of(child.id(), null))).isEmpty();
    }

    @Test
    void cleanlyClosedChild_isSeenAsLeft() throws Exception {
        ChildJvm child = start("clean");
        await().atMost(SLACK).until(() -> joined.containsKey(child.id()));

        child.requestClose();

        await().atMost(RedisMembershipIT.EXPIRY.plus(SLACK)).until(() -> left.containsKey(child.id()));
        assertThat(left.get(child.id())).isEqualTo(MembershipListener.LeaveReason.LEFT);
        assertThat(child.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(child.process().exitValue()).isZero();
        assertThat(child.output()).contains(ChildJvm.CLOSED);
    }

    private ChildJvm start(String name) throws IOException {
        ChildJvm child = ChildJvm.start(
                RedisMembershipChildProcess.class, name, cluster.server.uriWithPassword(), cluster.prefix, name);
        children.add(child);
        return child;
    }
}
