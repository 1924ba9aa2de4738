package dev.chorus.jgroups;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.jgroups.Address;
import org.jgroups.EmptyMessage;
import org.jgroups.Event;
import org.jgroups.Message;
import org.jgroups.PhysicalAddress;
import org.jgroups.conf.ClassConfigurator;
import org.jgroups.protocols.Discovery;
import org.jgroups.protocols.PingData;
import org.jgroups.stack.Protocol;
import org.jgroups.util.MessageBatch;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Sits directly above the transport, below discovery, so that even discovery requests and responses carry the
 * tag: a member with another wire format or another cluster secret is refused before it can be discovered,
 * and both sides log why, once per peer. The tag is diagnosis, not security: anyone watching the network can
 * copy it. What keeps outsiders out is the encryption above (see docs/jgroups.md).
 */

/** A JGroups protocol that refuses peers of another wire-format version or another cluster secret, saying why. */
public final class ChorusGuard extends Protocol {

    /** The protocol id registered with JGroups' class configurator (user ids start at 512). */
    static final short ID = 3117;

    private static final long TELL_INTERVAL_NANOS = 5_000_000_000L;
    private static final Logger LOG = LoggerFactory.getLogger(ChorusGuard.class);

    static {
        ClassConfigurator.addIfAbsent(GuardHeader.MAGIC, GuardHeader.class);
        if (ClassConfigurator.getProtocolId(ChorusGuard.class) == 0) {
            ClassConfigurator.addProtocol(ID, ChorusGuard.class);
        }
    }

    private final int wireVersion;
    private final long secretTag;
    private final Consumer<String> refusals;
    private final Set<String> logged = ConcurrentHashMap.newKeySet();
    private final Map<Address, Long> lastTold = new ConcurrentHashMap<>();

    /** For JGroups' reflection; never used by Chorus. */
    public ChorusGuard() {
        this(0, 0, r -> {});
    }

    ChorusGuard(int wireVersion, long secretTag, Consumer<String> refusals) {
        this.wireVersion = wireVersion;
        this.secretTag = secretTag;
        this.refusals = refusals;
        this.id = ID;
    }

    @Override
    public Object down(Message msg) {
        msg.putHeader(ID, new GuardHeader(wireVersion, secretTag));
        return down_prot.down(msg);
    }

    @Override
    public Object up(Message msg) {
        String refusal = check(msg);
        return refusal == null ? up_prot.up(msg) : null;
    }

    @Override
    public void up(MessageBatch batch) {
        batch.removeIf(msg -> check(msg) != null, true);
        if (!batch.isEmpty()) {
            up_prot.up(batch);
        }
    }

    @Override
    public Object up(Event evt) {
        return up_prot.up(evt);
    }

    /** Null when {@code msg} comes from a compatible member of this cluster, else why it was refused. */
    private @Nullable String check(Message msg) {
        GuardHeader header = msg.getHeader(ID);
        Address from = msg.getSrc();
        String refusal;
        if (header == null) {
            refusal = "it is not a Chorus member (no Chorus guard header): another application uses this cluster"
                    + " name and port; give this deployment its own CHORUS_CHANNEL";
        } else if (header.wireVersion != wireVersion) {
            refusal = "it speaks Chorus wire format " + header.wireVersion + " and this member speaks "
                    + wireVersion + "; run one Chorus minor version per cluster (finish the rolling upgrade or roll"
                    + " back)";
        } else if (header.secretTag != secretTag) {
            refusal = header.secretTag == 0
                    ? "it has no CHORUS_CLUSTER_SECRET and this member has one; set the same secret on every replica"
                    : secretTag == 0
                            ? "it has a CHORUS_CLUSTER_SECRET and this member has none; set the same secret on every"
                                    + " replica"
                            : "it has a different CHORUS_CLUSTER_SECRET; set the same secret on every replica";
        } else {
            return null;
        }
        tellRefused(msg, from);
        String key = from + ":" + refusal;
        if (logged.add(key)) {
            String line = "Refused JGroups peer " + from + " at " + physicalOf(from) + ": " + refusal
                    + ". Its messages are dropped, so it cannot join this cluster.";
            LOG.error(line);
            refusals.accept(line);
        } else {
            LOG.debug("Dropped another message from refused peer {}", from);
        }
        return refusal;
    }

    /*
     * A refused joiner's discovery requests are dropped here, so nothing of ours would ever reach it and it
     * could not say why it is alone. Its discovery request carries its physical address: answer it with an
     * empty message bearing our tag, so its own guard refuses us and logs the reason from its side. At most
     * once per peer every few seconds.
     */
    private void tellRefused(Message msg, @Nullable Address from) {
        if (from == null || !msg.hasArray() || msg.getLength() < Integer.BYTES) {
            return;
        }
        long now = System.nanoTime();
        Long last = lastTold.get(from);
        if (last != null && now - last < TELL_INTERVAL_NANOS) {
            return;
        }
        try {
            List<PingData> data = Discovery.deserialize(msg.getArray(), msg.getOffset(), msg.getLength());
            if (data == null || data.isEmpty() || data.get(0).getPhysicalAddr() == null) {
                return;
            }
            lastTold.put(from, now);
            PhysicalAddress physical = data.get(0).getPhysicalAddr();
            down(new EmptyMessage(physical).setFlag(Message.Flag.OOB, Message.Flag.DONT_BUNDLE));
        } catch (Exception notDiscovery) {
            LOG.trace("Message from refused peer {} is not a discovery request", from);
        }
    }

    private String physicalOf(@Nullable Address from) {
        if (from == null) {
            return "an unknown address";
        }
        try {
            Object physical = down_prot.down(new Event(Event.GET_PHYSICAL_ADDRESS, from));
            return physical == null ? "an unknown address" : physical.toString();
        } catch (RuntimeException e) {
            return "an unknown address";
        }
    }
}
