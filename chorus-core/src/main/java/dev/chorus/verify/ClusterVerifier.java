package dev.chorus.verify;

import dev.chorus.ReplicaId;
import dev.chorus.cluster.CallResult;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.sessions.Acceptance;
import dev.chorus.sessions.Dispatch;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.Session;
import dev.chorus.sessions.SessionHandler;
import dev.chorus.sessions.Sessions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The three checks operators run by hand after a deploy, made automatic: are the expected replicas live
 * and alike (versions, configuration fingerprints); does every one answer over the backplane; does a
 * dispatch from here reach a session on another replica. Plus the max-instances guard.
 *
 * <p>Every replica's verifier holds a probe session, {@code chorus-probe:<replica uuid>}, which accepts
 * anything; the dispatch check sends to the other replicas' probes.
 */
public final class ClusterVerifier implements AutoCloseable {

    /** Member attributes starting with this prefix must be equal on every replica (hashes, never secrets). */
    public static final String FINGERPRINT_PREFIX = "fingerprint.";
    /** Prefix of the probe session ids. */
    public static final String PROBE_PREFIX = "chorus-probe:";

    private static final Logger LOG = LoggerFactory.getLogger(ClusterVerifier.class);

    private final Membership membership;
    private final ClusterCalls calls;
    private final Sessions sessions;
    private final OptionalInt maxInstances;
    private volatile @Nullable Session probe;

    /**
     * A verifier for this replica.
     *
     * @param maxInstances the configured maximum of live replicas, empty for none
     */
    public ClusterVerifier(Membership membership, ClusterCalls calls, Sessions sessions, OptionalInt maxInstances) {
        this.membership = Objects.requireNonNull(membership, "membership");
        this.calls = Objects.requireNonNull(calls, "calls");
        this.sessions = Objects.requireNonNull(sessions, "sessions");
        this.maxInstances = Objects.requireNonNull(maxInstances, "maxInstances");
        claimProbe();
    }

    /** The probe session id of {@code replica}. */
    public static String probeId(ReplicaId replica) {
        return PROBE_PREFIX + replica.uuid();
    }

    /**
     * A short, stable fingerprint of a secret or a configuration value, safe to advertise as a member
     * attribute: the first 16 hex digits of its SHA-256.
     */
    public static String fingerprint(String value) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    private void claimProbe() {
        ReplicaId self = membership.self().id();
        sessions.claim(probeId(self), new SessionHandler() {
                    @Override
                    public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                        return CompletableFuture.completedFuture(Acceptance.accept());
                    }

                    @Override
                    public void onEnded(Session session, Session.EndReason why, String reason) {
                        LOG.debug("Probe session ended: {} {}", why, reason);
                    }
                })
                .whenComplete((session, error) -> {
                    if (error != null) {
                        LOG.warn("Could not claim the verification probe session: {}", error.toString());
                    } else {
                        probe = session;
                    }
                });
    }

    /** The live count against the configured maximum. */
    public MaxInstances maxInstances() {
        return new MaxInstances(membership.liveCount(), maxInstances);
    }

    /** Runs every check, each bounded by {@code timeout}. */
    public VerifyReport verify(Duration timeout) {
        Session current = probe;
        if (current == null || !current.isActive()) {
            claimProbe();
        }
        List<Member> members = membership.members();
        List<VerifyReport.Check> checks = new ArrayList<>();
        checks.add(membersCheck(members));
        checks.add(backplaneCheck(timeout));
        checks.add(dispatchCheck(members, timeout));
        checks.add(maxInstancesCheck(members.size()));
        boolean passed = checks.stream().allMatch(VerifyReport.Check::passed);
        return new VerifyReport(passed, checks, Instant.now());
    }

    private VerifyReport.Check membersCheck(List<Member> members) {
        if (members.isEmpty()) {
            return new VerifyReport.Check(
                    "members",
                    false,
                    "membership lists no live replica, not even this one: is its membership store reachable?",
                    Map.of("live", 0));
        }
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("live", members.size());
        Map<String, Set<String>> versions = new TreeMap<>();
        for (Member m : members) {
            versions.computeIfAbsent(m.version(), v -> new TreeSet<>()).add(m.id().toString());
        }
        data.put("versions", versions.keySet().stream().toList());
        List<String> problems = new ArrayList<>();
        if (versions.size() > 1) {
            problems.add("replicas run different versions: " + versions);
        }
        Set<String> keys = new TreeSet<>();
        members.forEach(m -> m.attributes().keySet().stream()
                .filter(k -> k.startsWith(FINGERPRINT_PREFIX))
                .forEach(keys::add));
        for (String key : keys) {
            Map<String, Set<String>> values = new TreeMap<>();
            for (Member m : members) {
                values.computeIfAbsent(m.attributes().getOrDefault(key, "(missing)"), v -> new TreeSet<>())
                        .add(m.id().toString());
            }
            if (values.size() > 1) {
                problems.add(key.substring(FINGERPRINT_PREFIX.length()) + " differs: " + values);
            }
        }
        data.put("fingerprints", keys.size());
        if (problems.isEmpty()) {
            return new VerifyReport.Check(
                    "members",
                    true,
                    members.size() + " replicas live, all on version "
                            + versions.keySet().iterator().next() + ", " + keys.size()
                            + " configuration fingerprints identical",
                    data);
        }
        return new VerifyReport.Check("members", false, String.join("; ", problems), data);
    }

    private VerifyReport.Check backplaneCheck(Duration timeout) {
        List<CallResult> results;
        try {
            results = calls.askAll("ping", new byte[0], timeout).get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return new VerifyReport.Check("backplane", false, "could not ask: " + e, Map.of());
        }
        Map<String, Object> data = new LinkedHashMap<>();
        List<String> silent = new ArrayList<>();
        for (CallResult r : results) {
            data.put(r.replica().toString(), r.ok() ? r.roundTrip().toNanos() / 1_000 + " µs" : "no answer");
            if (!r.ok()) {
                silent.add(r.replica() + " (" + r.error() + ")");
            }
        }
        if (silent.isEmpty()) {
            return new VerifyReport.Check(
                    "backplane", true, "all " + results.size() + " replicas answered over the backplane", data);
        }
        String detail = silent.size() + " of " + results.size() + " replicas did not answer over the backplane: "
                + String.join(", ", silent);
        if (silent.size() == results.size() - 1 && results.size() > 1) {
            // Its own answer never leaves the replica: when every other one is silent, the fault may be here.
            detail += "; no other replica answered, so this replica itself may be cut off (its backplane: "
                    + calls.backplaneHealth().status() + ", "
                    + calls.backplaneHealth().reason() + ")";
        }
        return new VerifyReport.Check("backplane", false, detail, data);
    }

    private VerifyReport.Check dispatchCheck(List<Member> members, Duration timeout) {
        ReplicaId self = membership.self().id();
        List<ReplicaId> others =
                members.stream().map(Member::id).filter(id -> !id.equals(self)).toList();
        if (others.isEmpty()) {
            return new VerifyReport.Check(
                    "dispatch", true, "this replica is alone: no other replica to dispatch to", Map.of());
        }
        Map<ReplicaId, CompletableFuture<DispatchResult>> results = new LinkedHashMap<>();
        for (ReplicaId other : others) {
            results.put(
                    other,
                    sessions.dispatch(probeId(other), "verify".getBytes(StandardCharsets.UTF_8), timeout)
                            .toCompletableFuture());
        }
        Map<String, Object> data = new LinkedHashMap<>();
        List<String> failed = new ArrayList<>();
        results.forEach((other, future) -> {
            DispatchResult result = future.join();
            data.put(
                    other.toString(),
                    result.outcome() + " in " + result.roundTrip().toNanos() / 1_000 + " µs");
            if (!result.delivered()) {
                failed.add(other + ": " + result.outcome() + " (" + result.reason() + ")");
            }
        });
        if (failed.isEmpty()) {
            return new VerifyReport.Check(
                    "dispatch",
                    true,
                    "a dispatch from this replica reached the probe session on each of the " + others.size()
                            + " other replicas",
                    data);
        }
        return new VerifyReport.Check(
                "dispatch",
                false,
                "dispatch did not reach " + failed.size() + " of " + others.size() + " replicas: "
                        + String.join("; ", failed),
                data);
    }

    private VerifyReport.Check maxInstancesCheck(int live) {
        MaxInstances guard = new MaxInstances(live, maxInstances);
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("live", live);
        maxInstances.ifPresent(max -> data.put("max", max));
        if (maxInstances.isEmpty()) {
            return new VerifyReport.Check("max-instances", true, "no maximum configured", data);
        }
        if (guard.exceeded()) {
            return new VerifyReport.Check("max-instances", false, Objects.requireNonNull(guard.warning()), data);
        }
        return new VerifyReport.Check(
                "max-instances", true, live + " of at most " + maxInstances.getAsInt() + " replicas live", data);
    }

    /** Closes the probe session. */
    @Override
    public void close() {
        Session current = probe;
        if (current != null) {
            current.close();
        }
    }
}
