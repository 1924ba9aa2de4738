package dev.chorus.cluster;

import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.internal.Bytes;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.MalformedInput;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.wire.Envelope;
import java.io.DataInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks every live replica (or one) a named question over the backplane and gathers the answers, naming
 * the replicas that did not answer in time. Handlers run on a virtual thread per request.
 *
 * <p>Requests travel on {@code chorus.calls}; answers on the asker's own {@code chorus.calls-reply.<uuid>}.
 * Who should answer comes from {@link Membership}, so a replica that is live but cut off from the
 * backplane shows up as "no answer" rather than being silently left out.
 */
public final class ClusterCalls implements AutoCloseable {

    /** Topic the requests travel on. */
    public static final String TOPIC = "chorus.calls";
    /** Prefix of each replica's reply topic; its uuid follows. */
    public static final String REPLY_PREFIX = "chorus.calls-reply.";

    private static final Logger LOG = LoggerFactory.getLogger(ClusterCalls.class);

    private final Backplane backplane;
    private final Membership membership;
    private final ReplicaId self;
    private final Map<String, Function<byte[], byte[]>> handlers = new ConcurrentHashMap<>();
    private final Map<Long, Gathering> gatherings = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final MalformedInput malformed = new MalformedInput(LOG, "cluster call message");
    private final List<Subscription> subscriptions;

    /** Answers and asks on {@code backplane}; {@code membership} says who should answer. */
    public ClusterCalls(Backplane backplane, Membership membership) {
        this.backplane = Objects.requireNonNull(backplane, "backplane");
        this.membership = Objects.requireNonNull(membership, "membership");
        this.self = backplane.replica();
        this.subscriptions = List.of(
                backplane.subscribe(TOPIC, this::onRequest),
                backplane.subscribe(REPLY_PREFIX + self.uuid(), this::onReply));
        serve("ping", request -> request);
    }

    /** Answers questions named {@code name} with {@code handler} (which may throw: the asker sees the error). */
    public void serve(String name, Function<byte[], byte[]> handler) {
        handlers.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(handler, "handler"));
    }

    /** The health of the backplane the calls travel on. */
    public dev.chorus.health.Health backplaneHealth() {
        return backplane.health();
    }

    /** Requests and replies dropped because they could not be read (forged, or another version). */
    public long malformed() {
        return malformed.count();
    }

    /** This replica. */
    public ReplicaId self() {
        return self;
    }

    /** Stops answering questions named {@code name}; askers then get "no handler" from this replica. */
    public void unserve(String name) {
        handlers.remove(name);
    }

    /** The replicas membership lists as live now, this one included. */
    public List<ReplicaId> liveMembers() {
        return membership.members().stream().map(Member::id).toList();
    }

    /**
     * Asks every live replica (this one included) and completes when all answered or the timeout passed,
     * with one result per replica in membership order; never completes exceptionally.
     */
    public CompletableFuture<List<CallResult>> askAll(String name, byte[] request, Duration timeout) {
        return ask(liveMembers(), name, request, timeout);
    }

    /** Asks {@code replicas}; see {@link #askAll}. */
    public CompletableFuture<List<CallResult>> ask(
            List<ReplicaId> replicas, String name, byte[] request, Duration timeout) {
        Objects.requireNonNull(name, "name");
        Checks.positive("timeout", timeout);
        long id = ids.incrementAndGet();
        Gathering gathering = new Gathering(replicas, System.nanoTime(), timeout);
        gatherings.put(id, gathering);
        gathering.result.whenComplete((r, e) -> gatherings.remove(id));
        CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS)
                .execute(gathering::finishWithTimeouts);
        byte[] bytes;
        try {
            bytes = Bytes.write(out -> {
                out.writeLong(id);
                out.writeUTF(name);
                out.writeInt(request.length);
                out.write(request);
            });
            backplane.publish(Message.of(TOPIC, bytes));
        } catch (RuntimeException e) {
            gathering.failAll("could not send the request: " + e.getMessage());
        }
        return gathering.result;
    }

    private void onRequest(dev.chorus.wire.Envelope envelope) {
        long id;
        String name;
        byte[] request;
        try (DataInputStream in = Bytes.read(envelope.payload())) {
            id = in.readLong();
            name = in.readUTF();
            request = Bytes.readBlob(in);
        } catch (IOException | RuntimeException e) {
            malformed.record(envelope.origin(), e);
            return;
        }
        ReplicaId asker = envelope.origin();
        Thread.ofVirtual().name("chorus-call-" + name).start(() -> {
            Function<byte[], byte[]> handler = handlers.get(name);
            byte[] reply = new byte[0];
            String error = null;
            if (handler == null) {
                error = "replica " + self + " has no handler for '" + name + "'";
            } else {
                try {
                    reply = handler.apply(request);
                } catch (RuntimeException e) {
                    error = "handler for '" + name + "' failed on " + self + ": " + FailureLog.describe(e);
                }
            }
            answer(asker, id, reply, error);
        });
    }

    private void answer(ReplicaId asker, long id, byte[] reply, @Nullable String error) {
        try {
            byte[] bytes = Bytes.write(out -> {
                out.writeLong(id);
                out.writeBoolean(error != null);
                out.writeUTF(error == null ? "" : error.length() > 2000 ? error.substring(0, 2000) : error);
                out.writeInt(reply.length);
                out.write(reply);
            });
            backplane.publish(Message.of(REPLY_PREFIX + asker.uuid(), bytes));
        } catch (RuntimeException e) {
            LOG.debug("Could not answer cluster call {} of {}: {}", id, asker, e.toString());
        }
    }

    private void onReply(Envelope envelope) {
        try (DataInputStream in = Bytes.read(envelope.payload())) {
            long id = in.readLong();
            boolean failed = in.readBoolean();
            String error = in.readUTF();
            byte[] reply = Bytes.readBlob(in);
            Gathering gathering = gatherings.get(id);
            if (gathering != null) {
                gathering.answered(envelope.origin(), reply, failed ? error : null);
            }
        } catch (IOException | RuntimeException e) {
            malformed.record(envelope.origin(), e);
        }
    }

    /** Answers to one request, keyed by replica in the order they were asked. */
    private static final class Gathering {
        final Map<ReplicaId, @Nullable CallResult> results = new LinkedHashMap<>();
        final long start;
        final Duration timeout;
        final CompletableFuture<List<CallResult>> result = new CompletableFuture<>();

        Gathering(List<ReplicaId> replicas, long start, Duration timeout) {
            replicas.forEach(r -> results.put(r, null));
            this.start = start;
            this.timeout = timeout;
            if (replicas.isEmpty()) {
                result.complete(List.of());
            }
        }

        synchronized void answered(ReplicaId replica, byte[] reply, @Nullable String error) {
            if (!results.containsKey(replica) || results.get(replica) != null) {
                return; // not asked (joined meanwhile), or a duplicate
            }
            results.put(
                    replica, new CallResult(replica, true, reply, Duration.ofNanos(System.nanoTime() - start), error));
            if (results.values().stream().allMatch(Objects::nonNull)) {
                complete();
            }
        }

        synchronized void finishWithTimeouts() {
            failAll("no answer within " + timeout.toMillis() + " ms");
        }

        synchronized void failAll(String why) {
            results.replaceAll(
                    (replica, r) -> r != null ? r : new CallResult(replica, false, new byte[0], timeout, why));
            complete();
        }

        private void complete() {
            List<CallResult> list = new ArrayList<>();
            results.values().forEach(list::add);
            result.complete(list);
        }
    }

    /** Stops answering and asking; pending questions complete with "no answer". Idempotent. */
    @Override
    public void close() {
        subscriptions.forEach(Subscription::close);
        for (Gathering gathering : gatherings.values()) {
            gathering.failAll("the cluster calls were closed");
        }
    }
}
