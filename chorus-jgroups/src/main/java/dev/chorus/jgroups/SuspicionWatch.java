package dev.chorus.jgroups;

import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;
import org.jgroups.Address;
import org.jgroups.Event;
import org.jgroups.conf.ClassConfigurator;
import org.jgroups.stack.Protocol;

/*
 * JGroups 5 no longer tells receivers about suspicions; a view only says who is gone, not whether they left
 * or were thrown out. Sitting just below GMS, this protocol sees the SUSPECT events that make GMS exclude a
 * member, so membership can tell LEFT (a clean leave) from EXPIRED (crash, hang or partition).
 */

/** A JGroups protocol below GMS that reports which members failure detection suspected. */
public final class SuspicionWatch extends Protocol {

    /** The protocol id registered with JGroups' class configurator. */
    static final short ID = 3118;

    static {
        if (ClassConfigurator.getProtocolId(SuspicionWatch.class) == 0) {
            ClassConfigurator.addProtocol(ID, SuspicionWatch.class);
        }
    }

    private final Consumer<Collection<Address>> suspected;

    /** For JGroups' reflection; never used by Chorus. */
    public SuspicionWatch() {
        this(a -> {});
    }

    SuspicionWatch(Consumer<Collection<Address>> suspected) {
        this.suspected = suspected;
        this.id = ID;
    }

    @Override
    public Object up(Event evt) {
        if (evt.getType() == Event.SUSPECT) {
            Object arg = evt.getArg();
            Collection<Address> who = arg instanceof Address one ? List.of(one) : evt.getArg();
            suspected.accept(who);
        }
        return up_prot.up(evt);
    }
}
