package dev.chorus.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Message;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.local.LocalCluster;
import dev.chorus.sessions.Sessions;
import dev.chorus.testing.Properties;
import java.io.DataInputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20: a length or count read from another replica is checked against the bytes that remain before
 * anything is allocated, so a forged 0x7fffffff is a counted malformed message, never an OutOfMemoryError.
 */
class WireLengthsTest {

    private final LocalCluster cluster = LocalCluster.create("lengths");
    private final java.util.List<AutoCloseable> replicas = new java.util.ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable replica : replicas) {
            replica.close();
        }
    }

    private LocalCluster.LocalReplica join(String name) {
        LocalCluster.LocalReplica replica = cluster.join(ReplicaId.random(name));
        replicas.add(replica);
        return replica;
    }

    @Test
    void readBlob_refusesNegativeAndOversizedLengths_beforeAllocating() {
        for (int length : new int[] {0x7fffffff, -1, Integer.MIN_VALUE, 5}) {
            byte[] message = Bytes.write(out -> {
                out.writeInt(length);
                out.write(new byte[4]);
            });
            assertThatThrownBy(() -> Bytes.readBlob(Bytes.read(message)))
                    .as("length %d", length)
                    .isInstanceOf(Bytes.MalformedException.class)
                    .hasMessageContaining("a length of " + length + " bytes where 4 remain");
        }
    }

    @Test
    void readBlobAndReadCount_acceptExactlyWhatFits_forAnyLength() {
        Properties.forAll("blob lengths", 2_000, random -> {
            int actual = random.nextInt(64);
            int claimed = random.nextBoolean() ? actual : random.nextInt();
            byte[] body = new byte[actual];
            random.nextBytes(body);
            byte[] message = Bytes.write(out -> {
                out.writeInt(claimed);
                out.write(body);
            });
            try (DataInputStream in = Bytes.read(message)) {
                byte[] read = Bytes.readBlob(in);
                assertThat(claimed).isBetween(0, actual);
                assertThat(read).isEqualTo(Arrays.copyOf(body, claimed));
            } catch (Bytes.MalformedException e) {
                assertThat(claimed < 0 || claimed > actual).isTrue();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            try (DataInputStream in = Bytes.read(message)) {
                int count = Bytes.readCount(in, 3);
                assertThat((long) count * 3).isBetween(0L, (long) actual);
            } catch (Bytes.MalformedException e) {
                assertThat(claimed < 0 || (long) claimed * 3 > actual).isTrue();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void clusterCall_withALengthOf0x7fffffff_isDroppedAndCounted() {
        LocalCluster.LocalReplica a = join("a");
        LocalCluster.LocalReplica b = join("b");
        try (ClusterCalls calls = new ClusterCalls(b.backplane(), b.membership())) {
            a.backplane().publish(Message.of(ClusterCalls.TOPIC, Bytes.write(out -> {
                out.writeLong(1);
                out.writeUTF("ping");
                out.writeInt(0x7fffffff);
            })));
            a.backplane().publish(Message.of(ClusterCalls.REPLY_PREFIX + b.id().uuid(), Bytes.write(out -> {
                out.writeLong(1);
                out.writeBoolean(false);
                out.writeUTF("");
                out.writeInt(0x7fffffff);
            })));

            await().until(() -> calls.malformed() == 2);
        }
    }

    @Test
    void dispatchRequest_withALengthOf0x7fffffff_isDroppedAndCounted() {
        LocalCluster.LocalReplica a = join("a");
        LocalCluster.LocalReplica b = join("b");
        try (Sessions sessions = Sessions.builder(b.backplane(), b.leases())
                .membership(b.membership())
                .build()) {
            a.backplane().publish(Message.of(Sessions.DISPATCH_PREFIX + b.id().uuid(), Bytes.write(out -> {
                out.writeByte('Q');
                out.writeLong(1);
                out.writeUTF("agent-1");
                out.writeLong(7);
                out.writeInt(0x7fffffff);
            })));

            await().until(() -> sessions.stats().get("malformed") == 1);
        }
    }
}
