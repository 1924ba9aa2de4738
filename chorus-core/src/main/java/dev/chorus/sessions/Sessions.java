package dev.chorus.sessions;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Subscriber;
import dev.chorus.internal.Bytes;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.MalformedInput;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseLostException;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.Leases;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.wire.Envelope;
import java.io.DataInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions this replica holds, and the {@link Dispatcher} that reaches any replica's sessions.
 *
 * <p>A replica that accepts a client session {@link #claim claims} it: a lease on {@code session:<id>}
 * with a fencing token, renewed while the session lives and released when it closes. A newer claim always
 * wins; the previous holder hears of it (a broadcast on {@code chorus.sessions}, or its next renewal
 * failing) and its handler is told to close the client's socket. A holder that cannot renew stops acting
 * for the session at its lease deadline: it fails closed.
 *
 * <p>A dispatch looks the owner up in the lease store, sends the message on the owner's own topic ({@code
 * chorus.dispatch.<replica uuid>}) with the token it saw, and waits for the owner's answer on its own
 * reply topic. The owner hands it to the session's handler only if it holds the session with exactly that
 * token and its lease deadline has not passed.
 *
 * <p>Failover (issue 20): a remembered owner is used only while its lease has not expired; an owner that does
 * not answer within {@link Builder#ownerSilence} is checked against the lease store, and the dispatch goes
 * at once to the replica that claimed the session since (or ends NO_LIVE_SESSION if none holds it); an owner
 * that membership reports gone is forgotten for all its sessions and its waiting dispatches are looked up
 * again. Claims that arrive together are taken over in batches ({@link ClaimBatcher}, {@link
 * Leases#claimAll}). This class stays past 600 lines because ownership and request/reply share the owner
 * memory and the pending calls; the batching lives apart.
 */
public final class Sessions implements Dispatcher, AutoCloseable {

    /** Default session lease time to live. */
    public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(10);
    /** Default time a dispatch waits for a remote owner's answer before it asks the lease store again. */
    public static final Duration DEFAULT_OWNER_SILENCE = Duration.ofMillis(250);
    /** Default largest number of claims taken over in one lease-store round trip. */
    public static final int DEFAULT_CLAIM_BATCH = 500;
    /** Prefix of the lease keys of sessions. */
    public static final String LEASE_PREFIX = "session:";
    /** Topic of claim announcements. */
    public static final String CLAIMS_TOPIC = "chorus.sessions";
    /** Prefix of each replica's dispatch topic; the replica's uuid follows. */
    public static final String DISPATCH_PREFIX = "chorus.dispatch.";
    /** Prefix of each replica's dispatch reply topic; the replica's uuid follows. */
    public static final String REPLY_PREFIX = "chorus.dispatch-reply.";

    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);
    private static final int MAX_ID_LENGTH = 200;
    private static final byte CLAIMED = 'C';
    private static final byte REQUEST = 'Q';
    private static final byte REPLY = 'R';
    // Reply codes: the public outcomes plus MISMATCH, "I hold it with another token: look again".
    private static final int MISMATCH = 99;

    private final Backplane backplane;
    private final Leases leases;
    private final @Nullable Membership membership;
    private final Duration ttl;
    private final long renewEvery;
    private final boolean fastFailover;
    private final long silenceNanos;
    private final ClaimBatcher claims;
    private final LongSupplier nanoClock;
    private final ReplicaId self;

    private final Map<String, Session> local = new ConcurrentHashMap<>();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong requestIds = new AtomicLong();
    // Replicas membership saw leave or expire; a snapshot of live members would lag behind new joiners.
    private final Map<ReplicaId, Long> departed =
            java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(Map.Entry<ReplicaId, Long> eldest) {
                    return size() > 1000;
                }
            });
    private final @Nullable Subscription membershipSubscription;
    // Owners seen recently (lookups, claim announcements, answers), so most dispatches skip the lease store.
    // A stale entry costs one extra hop: the replica named answers NO_LIVE_SESSION or a token mismatch, and
    // the dispatcher looks the owner up in the store before answering its caller.
    private final Map<String, KnownOwner> owners =
            java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>(256, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, KnownOwner> eldest) {
                    return size() > 10_000;
                }
            });

    private record KnownOwner(LeaseOwner owner, long seenAt) {}

    private final ScheduledExecutorService scheduler;
    private final List<Subscription> subscriptions;
    private final FailureLog renewLog = new FailureLog(LOG);
    // Sessions due for renewal in this maintenance round; only the scheduler thread touches it.
    private final List<Session> due = new java.util.ArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean draining;

    private final LongAdder dispatched = new LongAdder();
    private final LongAdder served = new LongAdder();
    private final MalformedInput malformed = new MalformedInput(LOG, "dispatch message");
    private final LongAdder failedOver = new LongAdder();
    private final LongAdder silentOwners = new LongAdder();

    private Sessions(Builder b) {
        this.backplane = b.backplane;
        this.leases = b.leases;
        this.membership = b.membership;
        this.ttl = b.ttl;
        this.renewEvery = ttl.toNanos() / 3;
        this.fastFailover = b.fastFailover;
        this.silenceNanos = b.ownerSilence.toNanos();
        this.claims = new ClaimBatcher(leases, ttl, fastFailover ? b.claimBatch : 1);
        this.nanoClock = b.nanoClock;
        this.self = backplane.replica();
        this.scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("chorus-sessions").factory());
        List<Subscription> subscribed = new java.util.ArrayList<>();
        try {
            subscribed.add(backplane.subscribe(CLAIMS_TOPIC, new Subscriber() {
                @Override
                public void onMessage(Envelope envelope) {
                    onClaim(envelope);
                }

                @Override
                public void onMissed(dev.chorus.backplane.Missed missed) {
                    // A lost claim announcement could leave a remembered owner that no longer owns.
                    owners.clear();
                }
            }));
            subscribed.add(backplane.subscribe(DISPATCH_PREFIX + self.uuid(), new Requests()));
            subscribed.add(backplane.subscribe(REPLY_PREFIX + self.uuid(), this::onReply));
        } catch (RuntimeException e) {
            // A half-built dispatcher must not keep listening or keep its thread.
            subscribed.forEach(Subscription::close);
            scheduler.shutdownNow();
            throw e;
        }
        this.subscriptions = List.copyOf(subscribed);
        this.membershipSubscription = membership == null
                ? null
                : membership.onChange(new MembershipListener() {
                    @Override
                    public void onLeft(Member member, LeaveReason reason) {
                        departed.put(member.id(), System.nanoTime());
                        synchronized (owners) {
                            owners.values().removeIf(k -> k.owner().holder().equals(member.id()));
                        }
                        if (fastFailover) {
                            failOverFrom(member.id(), "membership reports it " + reason);
                        }
                    }

                    @Override
                    public void onJoined(Member member) {
                        departed.remove(member.id());
                    }
                });
        long tick = Math.clamp(
                ttl.toNanos() / 10,
                Duration.ofMillis(20).toNanos(),
                Duration.ofMillis(500).toNanos());
        scheduler.scheduleWithFixedDelay(this::maintain, tick, tick, TimeUnit.NANOSECONDS);
    }

    /** Starts building the sessions of this replica on {@code backplane}, with leases from {@code leases}. */
    public static Builder builder(Backplane backplane, Leases leases) {
        return new Builder(backplane, leases);
    }

    // ---- owning ----

    /**
     * Claims {@code sessionId} for this replica, taking it from whichever replica held it (the client
     * reconnected here). Completes with the session once the lease store granted a new, larger token.
     *
     * @throws ChorusException (in the future) when this replica is draining or closed
     */
    public CompletableFuture<Session> claim(String sessionId, SessionHandler handler) {
        checkId(sessionId);
        Objects.requireNonNull(handler, "handler");
        if (draining || closed.get()) {
            return CompletableFuture.failedFuture(new ChorusException("Replica " + self
                    + " is shutting down and takes no new sessions; the client should reconnect to another"
                    + " replica"));
        }
        CompletableFuture<Lease> claimed =
                fastFailover ? claims.claim(LEASE_PREFIX + sessionId) : leases.claim(LEASE_PREFIX + sessionId, ttl);
        return claimed.thenApply(lease -> {
            Session session = new Session(sessionId, lease, handler, this, nanoClock.getAsLong() + renewEvery);
            Session[] replaced = new Session[1];
            Session kept = local.compute(sessionId, (id, current) -> {
                // Claims can complete out of order: the larger token always stays.
                if (current != null && current.token() > lease.token()) {
                    return current;
                }
                replaced[0] = current;
                return session;
            });
            if (kept != session) {
                end(session, Session.EndReason.SUPERSEDED, "a newer claim on this replica holds token " + kept.token());
                return session;
            }
            if (replaced[0] != null) {
                end(
                        replaced[0],
                        Session.EndReason.SUPERSEDED,
                        "claimed again on this replica with token " + lease.token());
            }
            if (closed.get()) {
                // close() ran while the claim was in flight and did not see this session.
                end(session, Session.EndReason.DRAINED, "replica " + self + " shut down while the claim completed");
                return session;
            }
            announceClaim(sessionId, lease.token());
            LOG.debug("Claimed session {} with token {}", sessionId, lease.token());
            return session;
        });
    }

    /** The session {@code sessionId} if this replica holds it and may act for it. */
    public Optional<Session> local(String sessionId) {
        Session session = local.get(sessionId);
        return session != null && session.isActive() ? Optional.of(session) : Optional.empty();
    }

    /** How many sessions this replica holds. */
    public int localCount() {
        return local.size();
    }

    /** Whether {@link #drain()} was called. */
    public boolean isDraining() {
        return draining;
    }

    /**
     * Stops taking new sessions and answers dispatches with OWNER_DRAINING, so operators learn at once that
     * the client must reconnect elsewhere; sessions stay open until {@link #close()}.
     */
    public void drain() {
        draining = true;
        LOG.info(
                "Sessions draining on {}: {} sessions held, dispatches now answered OWNER_DRAINING",
                self,
                local.size());
    }

    void end(Session session, Session.EndReason why, String reason) {
        if (!session.end(why)) {
            return;
        }
        local.remove(session.id(), session);
        if (why == Session.EndReason.CLOSED || why == Session.EndReason.DRAINED) {
            leases.release(session.lease()).whenComplete((ignored, error) -> {
                if (error != null) {
                    LOG.debug("Releasing session {} failed; it expires instead: {}", session.id(), error.toString());
                }
            });
        }
        if (why == Session.EndReason.SUPERSEDED || why == Session.EndReason.LEASE_LOST) {
            LOG.info("Session {} (token {}) ended on {}: {} — {}", session.id(), session.token(), self, why, reason);
        }
        session.executor.execute(() -> session.handler().onEnded(session, why, reason));
    }

    private void announceClaim(String sessionId, long token) {
        try {
            backplane.publish(Message.of(CLAIMS_TOPIC, Bytes.write(out -> {
                out.writeByte(CLAIMED);
                out.writeUTF(sessionId);
                out.writeLong(token);
            })));
        } catch (RuntimeException e) {
            // The old holder still learns at its next renewal.
            LOG.debug("Could not announce the claim of {}: {}", sessionId, e.toString());
        }
    }

    private void onClaim(Envelope envelope) {
        if (envelope.isFrom(self)) {
            return;
        }
        try (DataInputStream in = Bytes.read(envelope.payload())) {
            if (in.readByte() != CLAIMED) {
                return;
            }
            String sessionId = in.readUTF();
            long token = in.readLong();
            remember(new LeaseOwner(
                    LEASE_PREFIX + sessionId,
                    envelope.origin(),
                    token,
                    java.time.Instant.now().plus(ttl)));
            Session mine = local.get(sessionId);
            if (mine != null && mine.token() < token) {
                end(
                        mine,
                        Session.EndReason.SUPERSEDED,
                        "the client reconnected to replica " + envelope.origin() + ", which claimed the session"
                                + " with token " + token);
            }
        } catch (IOException e) {
            malformed.record(envelope.origin(), e);
        }
    }

    /** Renews leases that are due and ends sessions whose lease deadline passed. */
    private void maintain() {
        long now = nanoClock.getAsLong();
        for (Session session : local.values()) {
            if (!session.lease().isValid()) {
                end(
                        session,
                        Session.EndReason.LEASE_LOST,
                        "its lease could not be renewed before the deadline (lease store unreachable?), so this"
                                + " replica stops acting for it");
            } else if (!session.renewing && now - session.nextRenewAt >= 0) {
                if (fastFailover) {
                    due.add(session);
                } else {
                    renew(session);
                }
            }
        }
        // A replica holding a thousand sessions renews them a few statements at a time, not one each: one each
        // kept a pool of four connections busy enough that claims waited seconds behind renewals (issue 20).
        for (int from = 0; from < due.size(); from += Leases.MAX_BATCH) {
            renewAll(List.copyOf(due.subList(from, Math.min(due.size(), from + Leases.MAX_BATCH))));
        }
        due.clear();
    }

    private void renewAll(List<Session> sessions) {
        List<Lease> current = new java.util.ArrayList<>(sessions.size());
        for (Session session : sessions) {
            session.renewing = true;
            current.add(session.lease());
        }
        leases.renewAll(current).whenComplete((renewed, error) -> {
            for (int i = 0; i < sessions.size(); i++) {
                Session session = sessions.get(i);
                session.renewing = false;
                if (error != null) {
                    renewed(session, current.get(i), null, error);
                } else {
                    Optional<Lease> lease = renewed.get(i);
                    renewed(
                            session,
                            current.get(i),
                            lease.orElse(null),
                            lease.isPresent()
                                    ? null
                                    : new LeaseLostException(
                                            current.get(i).key(),
                                            current.get(i).token(),
                                            "it expired, was released or was taken over before the renewal"));
                }
            }
        });
    }

    private void renew(Session session) {
        session.renewing = true;
        Lease current = session.lease();
        leases.renew(current).whenComplete((renewed, error) -> {
            session.renewing = false;
            renewed(session, current, renewed, error);
        });
    }

    /** The outcome of renewing {@code session}'s lease {@code current}: {@code renewed}, or {@code error}. */
    private void renewed(Session session, Lease current, @Nullable Lease renewed, @Nullable Throwable error) {
        if (error == null && renewed != null) {
            session.renewed(renewed);
            session.nextRenewAt = nanoClock.getAsLong() + renewEvery;
            if (renewLog.isFailing()) {
                renewLog.recovered("Session leases renew again on " + self);
            }
            return;
        }
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof LeaseLostException lost) {
            leases.owner(LEASE_PREFIX + session.id()).whenComplete((owner, e) -> {
                if (owner != null && owner.isPresent() && !owner.get().holder().equals(self)) {
                    end(
                            session,
                            Session.EndReason.SUPERSEDED,
                            "replica " + owner.get().holder() + " claimed it with token "
                                    + owner.get().token());
                } else {
                    end(session, Session.EndReason.LEASE_LOST, lost.getMessage());
                }
            });
        } else {
            renewLog.failure(
                    "Could not renew the lease of session " + session.id() + " on " + self + " ("
                            + FailureLog.describe(cause) + "); retrying until its deadline in "
                            + current.remaining().toMillis() + " ms, then the session ends",
                    null);
        }
    }

    // ---- dispatching ----

    @Override
    public CompletionStage<DispatchResult> dispatch(String sessionId, byte[] payload, Duration timeout) {
        checkId(sessionId);
        Objects.requireNonNull(payload, "payload");
        Checks.positive("timeout", timeout);
        long start = nanoClock.getAsLong();
        Pending call = new Pending(requestIds.incrementAndGet(), sessionId, payload.clone(), start);
        if (closed.get()) {
            call.result.complete(new DispatchResult(
                    DispatchResult.Outcome.REJECTED,
                    null,
                    0,
                    Duration.ZERO,
                    "the dispatcher of replica " + self + " is closed; nothing was sent"));
            return call.result;
        }
        dispatched.increment();
        pending.put(call.id, call);
        try {
            call.timeout = scheduler.schedule(() -> timedOut(call, timeout), timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            finish(call, DispatchResult.Outcome.REJECTED, null, 0, "the dispatcher of replica " + self + " is closed");
            return call.result;
        }
        KnownOwner known = owners.get(sessionId);
        if (known != null && fastFailover && !known.owner().expiresAt().isAfter(java.time.Instant.now())) {
            // Its lease has run out by now: whoever holds the session, if anyone, the store knows.
            forgetOwner(sessionId);
            known = null;
        }
        if (known != null && nanoClock.getAsLong() - known.seenAt() < renewEvery) {
            call.fromCache = true;
            send(call, known.owner());
        } else {
            lookUp(call);
        }
        return call.result;
    }

    /** The timeout fired: completed off the scheduler thread, so a caller's continuation cannot stall it. */
    private void timedOut(Pending call, Duration timeout) {
        Thread.ofVirtual()
                .name("chorus-dispatch-timeout")
                .start(() -> finish(
                        call,
                        DispatchResult.Outcome.TIMEOUT,
                        call.owner,
                        call.token,
                        "no answer from " + (call.owner == null ? "the lease store" : "replica " + call.owner)
                                + " within " + timeout.toMillis()
                                + " ms; the message may or may not have been handled"));
    }

    private void remember(LeaseOwner owner) {
        String sessionId = owner.key().substring(LEASE_PREFIX.length());
        synchronized (owners) {
            KnownOwner known = owners.get(sessionId);
            if (known == null || known.owner().token() <= owner.token()) {
                owners.put(sessionId, new KnownOwner(owner, nanoClock.getAsLong()));
            }
        }
    }

    private void forgetOwner(String sessionId) {
        owners.remove(sessionId);
    }

    private void lookUp(Pending call) {
        call.attempts++;
        call.fromCache = false;
        leases.owner(LEASE_PREFIX + call.sessionId).whenComplete((owner, error) -> {
            if (error != null) {
                finish(
                        call,
                        DispatchResult.Outcome.TIMEOUT,
                        null,
                        0,
                        "the lease store could not say who holds session " + call.sessionId + ": "
                                + FailureLog.describe(error));
            } else if (owner.isEmpty()) {
                forgetOwner(call.sessionId);
                finish(
                        call,
                        DispatchResult.Outcome.NO_LIVE_SESSION,
                        null,
                        0,
                        "no replica holds session " + call.sessionId);
            } else {
                if (!fastFailover || !departed.containsKey(owner.get().holder())) {
                    remember(owner.get()); // a departed owner is not worth remembering
                }
                send(call, owner.get());
            }
        });
    }

    private void send(Pending call, LeaseOwner owner) {
        call.owner = owner.holder();
        call.token = owner.token();
        if (owner.holder().equals(self)) {
            serve(
                    call.sessionId,
                    owner.token(),
                    self,
                    call.payload,
                    (code, token, reason) -> answered(call, self, code, token, reason));
            return;
        }
        if (departed.containsKey(owner.holder())) {
            if (fastFailover && call.fromCache) {
                // Remembered before membership saw it leave: the store may know a newer claim already.
                forgetOwner(call.sessionId);
                call.moves.incrementAndGet();
                lookUp(call);
                return;
            }
            finish(
                    call,
                    DispatchResult.Outcome.NO_LIVE_SESSION,
                    owner.holder(),
                    owner.token(),
                    "session " + call.sessionId + " is held by replica " + owner.holder() + ", which is no longer"
                            + " live (membership saw it leave); its lease expires at " + owner.expiresAt());
            return;
        }
        int moves = call.moves.get();
        try {
            backplane.publish(Message.of(DISPATCH_PREFIX + owner.holder().uuid(), Bytes.write(out -> {
                out.writeByte(REQUEST);
                out.writeLong(call.id);
                out.writeUTF(call.sessionId);
                out.writeLong(owner.token());
                out.writeInt(call.payload.length);
                out.write(call.payload);
            })));
            if (fastFailover) {
                probeLater(call, moves, silenceNanos);
            }
        } catch (RuntimeException e) {
            // Refused before it left (too large, backplane closed): certainly not handled.
            finish(
                    call,
                    DispatchResult.Outcome.REJECTED,
                    owner.holder(),
                    owner.token(),
                    "the message could not be sent: " + e.getMessage());
        }
    }

    /** Asks the store about the call's owner if it has not answered in {@code delay} and the call did not move. */
    private void probeLater(Pending call, int moves, long delay) {
        try {
            scheduler.schedule(() -> probe(call, moves, delay), delay, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // Closed: close() answers every waiting call.
        }
    }

    /**
     * The owner addressed has been silent for {@code delay}: if the store still names it, with the same token,
     * keep waiting (its handler may be slow) and ask again later; otherwise fail over to the owner the store
     * names now, or end NO_LIVE_SESSION if none holds the session.
     */
    private void probe(Pending call, int moves, long delay) {
        ReplicaId silent = call.owner;
        long token = call.token;
        if (call.result.isDone() || call.moves.get() != moves || silent == null) {
            return;
        }
        silentOwners.increment();
        leases.owner(LEASE_PREFIX + call.sessionId).whenComplete((found, error) -> {
            if (call.result.isDone() || call.moves.get() != moves) {
                return;
            }
            boolean stillOwner = found != null
                    && found.isPresent()
                    && found.get().holder().equals(silent)
                    && found.get().token() == token
                    && !departed.containsKey(silent);
            if (error != null || stillOwner) {
                probeLater(call, moves, Math.min(delay * 2, 4 * silenceNanos));
                return;
            }
            if (!call.moves.compareAndSet(moves, moves + 1)) {
                return;
            }
            forgetOwner(call.sessionId);
            call.replaced.add(silent);
            failedOver.increment();
            if (found.isEmpty()) {
                finish(
                        call,
                        DispatchResult.Outcome.NO_LIVE_SESSION,
                        silent,
                        token,
                        "replica " + silent + " did not answer within "
                                + Duration.ofNanos(delay).toMillis()
                                + " ms and no replica holds session " + call.sessionId
                                + " now (its lease expired or was released)");
                return;
            }
            LOG.debug(
                    "Dispatch {} fails over from silent {} to {} (token {})",
                    call.sessionId,
                    silent,
                    found.get().holder(),
                    found.get().token());
            remember(found.get());
            send(call, found.get());
        });
    }

    /** Membership reports {@code gone}: every call waiting on it asks the store again at once. */
    private void failOverFrom(ReplicaId gone, String why) {
        for (Pending call : pending.values()) {
            int moves = call.moves.get();
            if (gone.equals(call.owner) && !call.result.isDone() && call.moves.compareAndSet(moves, moves + 1)) {
                LOG.debug("Dispatch {} looks its owner up again: {} left ({})", call.sessionId, gone, why);
                call.replaced.add(gone);
                failedOver.increment();
                lookUp(call);
            }
        }
    }

    private void onReply(Envelope envelope) {
        try (DataInputStream in = Bytes.read(envelope.payload())) {
            if (in.readByte() != REPLY) {
                return;
            }
            long id = in.readLong();
            int code = in.readUnsignedByte();
            long token = in.readLong();
            String reason = in.readUTF();
            Pending call = pending.get(id);
            if (call != null) {
                answered(call, envelope.origin(), code, token, reason);
            }
        } catch (IOException e) {
            malformed.record(envelope.origin(), e);
        }
    }

    private void answered(Pending call, ReplicaId from, int code, long token, String reason) {
        if (call.replaced.contains(from) && code != DispatchResult.Outcome.DELIVERED.ordinal()) {
            // A late answer from an owner this call already failed over from: only a delivery still counts.
            return;
        }
        boolean noSession = code == DispatchResult.Outcome.NO_LIVE_SESSION.ordinal();
        boolean draining = code == DispatchResult.Outcome.OWNER_DRAINING.ordinal();
        if ((code == MISMATCH || noSession || draining) && call.fromCache) {
            // The owner we remembered no longer holds it: ask the store before answering the caller.
            forgetOwner(call.sessionId);
            call.moves.incrementAndGet();
            lookUp(call);
            return;
        }
        if (code == MISMATCH) {
            if (call.attempts < 2) {
                call.moves.incrementAndGet();
                lookUp(call); // the lease store knows a newer claim than the one we addressed
                return;
            }
            finish(call, DispatchResult.Outcome.NO_LIVE_SESSION, call.owner, token, reason);
            return;
        }
        DispatchResult.Outcome[] outcomes = DispatchResult.Outcome.values();
        if (code >= outcomes.length) {
            finish(call, DispatchResult.Outcome.REJECTED, call.owner, token, "unknown answer " + code + ": " + reason);
            return;
        }
        finish(call, outcomes[code], call.owner, token, reason);
    }

    private void finish(
            Pending call, DispatchResult.Outcome outcome, @Nullable ReplicaId replica, long token, String reason) {
        if (!pending.remove(call.id, call)) {
            return;
        }
        ScheduledFuture<?> timeout = call.timeout;
        if (timeout != null) {
            timeout.cancel(false);
        }
        // An answer does not refresh the remembered owner: only the store or a claim does, so a holder that
        // missed losing its session is asked about at most a third of a lease after the store was.
        if (outcome == DispatchResult.Outcome.TIMEOUT) {
            forgetOwner(call.sessionId);
        }
        Duration roundTrip = Duration.ofNanos(nanoClock.getAsLong() - call.start);
        call.result.complete(new DispatchResult(outcome, replica, token, roundTrip, reason));
    }

    /** Answers a request for one of this replica's sessions through {@code reply}. */
    private void serve(String sessionId, long token, ReplicaId from, byte[] payload, Reply reply) {
        served.increment();
        Session session = local.get(sessionId);
        if (session == null || session.endReason() != null) {
            reply.send(
                    DispatchResult.Outcome.NO_LIVE_SESSION.ordinal(),
                    0,
                    "replica " + self + " does not hold session " + sessionId);
            return;
        }
        if (draining || closed.get()) {
            reply.send(DispatchResult.Outcome.OWNER_DRAINING.ordinal(), token, "replica " + self + " is shutting down");
            return;
        }
        if (!session.lease().isValid()) {
            reply.send(
                    DispatchResult.Outcome.NO_LIVE_SESSION.ordinal(),
                    session.token(),
                    "replica " + self + " could not renew the lease of session " + sessionId + " in time and"
                            + " no longer acts for it");
            return;
        }
        if (session.token() != token) {
            reply.send(
                    MISMATCH,
                    session.token(),
                    "replica " + self + " holds session " + sessionId + " with token " + session.token() + ", not "
                            + token);
            return;
        }
        // An idle session's handler runs right here, on the dispatch topic's delivery thread: it only starts
        // the client's work and returns a stage, and this saves a thread handoff on every dispatch.
        session.executor.executeHereIfIdle(() -> {
            // Checked again: the lease may have run out while this waited behind earlier messages.
            if (!session.isActive()) {
                reply.send(
                        DispatchResult.Outcome.NO_LIVE_SESSION.ordinal(),
                        session.token(),
                        "session " + sessionId + " ended on replica " + self + " before the message was handled");
                return;
            }
            CompletionStage<Acceptance> stage;
            try {
                stage = session.handler().onDispatch(new Dispatch(sessionId, token, from, payload));
                if (stage == null) {
                    stage = CompletableFuture.failedFuture(new NullPointerException("onDispatch returned null"));
                }
            } catch (Throwable e) { // even a sneaky checked exception must become an answer, not a timeout
                stage = CompletableFuture.failedFuture(e);
            }
            stage.whenComplete((acceptance, error) -> {
                if (error == null && acceptance == null) {
                    reply.send(
                            DispatchResult.Outcome.REJECTED.ordinal(),
                            token,
                            "the session handler completed without an Acceptance");
                } else if (error != null) {
                    reply.send(
                            DispatchResult.Outcome.REJECTED.ordinal(),
                            token,
                            "the session handler failed: " + FailureLog.describe(error));
                } else if (acceptance.accepted()) {
                    reply.send(DispatchResult.Outcome.DELIVERED.ordinal(), token, "delivered");
                } else {
                    reply.send(
                            DispatchResult.Outcome.REJECTED.ordinal(),
                            token,
                            Objects.requireNonNullElse(acceptance.reason(), "rejected"));
                }
            });
        });
    }

    /** Dispatch requests addressed to this replica. */
    private final class Requests implements Subscriber {
        @Override
        public void onMessage(Envelope envelope) {
            long id;
            String sessionId;
            long token;
            byte[] payload;
            try (DataInputStream in = Bytes.read(envelope.payload())) {
                if (in.readByte() != REQUEST) {
                    return;
                }
                id = in.readLong();
                sessionId = in.readUTF();
                token = in.readLong();
                payload = Bytes.readBlob(in);
            } catch (IOException | RuntimeException e) {
                malformed.record(envelope.origin(), e);
                return;
            }
            ReplicaId requester = envelope.origin();
            serve(sessionId, token, requester, payload, (code, answeredToken, reason) -> {
                try {
                    backplane.publish(Message.of(REPLY_PREFIX + requester.uuid(), Bytes.write(out -> {
                        out.writeByte(REPLY);
                        out.writeLong(id);
                        out.writeByte(code);
                        out.writeLong(answeredToken);
                        out.writeUTF(reason.length() > 2000 ? reason.substring(0, 2000) : reason);
                    })));
                } catch (RuntimeException e) {
                    LOG.debug("Could not answer dispatch {} from {}: {}", id, requester, e.toString());
                }
            });
        }
    }

    /** Where the owner's answer to one request goes. */
    @FunctionalInterface
    private interface Reply {
        void send(int code, long token, String reason);
    }

    /** One dispatch waiting for its outcome. */
    private static final class Pending {
        final long id;
        final String sessionId;
        final byte[] payload;
        final long start;
        final CompletableFuture<DispatchResult> result = new CompletableFuture<>();
        volatile @Nullable ScheduledFuture<?> timeout;
        volatile @Nullable ReplicaId owner;
        volatile long token;
        volatile int attempts;
        volatile boolean fromCache;
        // Bumped whenever the call is sent anew, so a failover decided for an older send does nothing.
        final java.util.concurrent.atomic.AtomicInteger moves = new java.util.concurrent.atomic.AtomicInteger();
        // Owners this call failed over from: their late answers, but a delivery, are ignored.
        final java.util.Set<ReplicaId> replaced = ConcurrentHashMap.newKeySet();

        Pending(long id, String sessionId, byte[] payload, long start) {
            this.id = id;
            this.sessionId = sessionId;
            this.payload = payload;
            this.start = start;
        }
    }

    // ---- plumbing ----

    /**
     * Counters: dispatches sent from here, requests served here, sessions held, owners that stayed silent past
     * {@link Builder#ownerSilence}, dispatches that failed over to another owner, and unreadable messages
     * dropped.
     */
    public Map<String, Long> stats() {
        return Map.of(
                "dispatched", dispatched.sum(),
                "served", served.sum(),
                "held", (long) local.size(),
                "silentOwners", silentOwners.sum(),
                "failedOver", failedOver.sum(),
                "malformed", malformed.count());
    }

    private static void checkId(String sessionId) {
        Objects.requireNonNull(sessionId, "sessionId");
        if (sessionId.isEmpty()
                || sessionId.length() > MAX_ID_LENGTH
                || sessionId.chars().anyMatch(Character::isISOControl)) {
            throw new ChorusException("Session id '" + sessionId + "' is not valid: 1 to " + MAX_ID_LENGTH
                    + " characters without control characters (for example an agent id like 'agent-42')");
        }
    }

    /**
     * Ends every session held here (their handlers hear DRAINED and their leases are released), stops
     * renewing and answering; dispatches still waiting complete as TIMEOUT. Idempotent. Does not close the
     * backplane or the lease store.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        draining = true;
        for (Session session : local.values()) {
            end(session, Session.EndReason.DRAINED, "replica " + self + " is shutting down; reconnect to another");
        }
        subscriptions.forEach(Subscription::close);
        if (membershipSubscription != null) {
            membershipSubscription.close();
        }
        // Scheduler first: a dispatch racing with close either finds it shut (and answers at once) or has
        // put its call before the sweep below.
        scheduler.shutdownNow();
        for (Pending call : pending.values()) {
            finish(call, DispatchResult.Outcome.TIMEOUT, call.owner, call.token, "the dispatcher was closed");
        }
    }

    /** Options of {@link Sessions}. */
    public static final class Builder {
        private final Backplane backplane;
        private final Leases leases;
        private @Nullable Membership membership;
        private Duration ttl = DEFAULT_LEASE_TTL;
        private Duration ownerSilence = DEFAULT_OWNER_SILENCE;
        private int claimBatch = DEFAULT_CLAIM_BATCH;
        private boolean fastFailover = true;
        private LongSupplier nanoClock = System::nanoTime;

        private Builder(Backplane backplane, Leases leases) {
            this.backplane = Objects.requireNonNull(backplane, "backplane");
            this.leases = Objects.requireNonNull(leases, "leases");
        }

        /**
         * How long a session's lease lives without renewal (default 10 s; renewed every third of it). A crashed
         * owner's sessions become claimable, and dispatches to them NO_LIVE_SESSION, after at most this long.
         */
        public Builder leaseTtl(Duration ttl) {
            this.ttl = Checks.positive("leaseTtl", ttl);
            return this;
        }

        /**
         * The cluster's membership: a dispatch to an owner that membership saw leave or expire fails at once
         * with NO_LIVE_SESSION instead of waiting for its lease to expire.
         */
        public Builder membership(Membership membership) {
            this.membership = Objects.requireNonNull(membership, "membership");
            return this;
        }

        /**
         * How long a dispatch waits for a remote owner's answer before it asks the lease store whether that
         * replica still holds the session (default 250 ms). If another replica claimed it since, the dispatch
         * goes there at once; if none holds it, it ends NO_LIVE_SESSION. While the store still names the silent
         * owner the dispatch keeps waiting (a handler may take its time), asking again at growing intervals.
         */
        public Builder ownerSilence(Duration ownerSilence) {
            this.ownerSilence = Checks.positive("ownerSilence", ownerSilence);
            return this;
        }

        /** The most claims taken over in one lease-store round trip (default 500, at most 1000). */
        public Builder claimBatch(int claimBatch) {
            if (claimBatch < 1 || claimBatch > Leases.MAX_BATCH) {
                throw new ChorusException("claimBatch must be 1 to " + Leases.MAX_BATCH + ", was " + claimBatch
                        + " (for example " + DEFAULT_CLAIM_BATCH + ")");
            }
            this.claimBatch = claimBatch;
            return this;
        }

        /**
         * False restores the failover of before issue 20, for comparison only (the failover benchmark's
         * "before" row): a dispatch waits out a silent remembered owner until its timeout, a remembered owner
         * is used even after its lease ran out, membership reports do not move waiting dispatches, and every
         * claim is its own round trip. True by default.
         */
        public Builder fastFailover(boolean fastFailover) {
            this.fastFailover = fastFailover;
            return this;
        }

        /** A clock for tests; {@link System#nanoTime()} by default. */
        Builder nanoClock(LongSupplier nanoClock) {
            this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
            return this;
        }

        /** Subscribes to the claim, dispatch and reply topics and starts renewing. */
        public Sessions build() {
            return new Sessions(this);
        }
    }
}
