package dev.chorus.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.jgroups.BytesMessage;
import org.jgroups.JChannel;
import org.jgroups.Message;
import org.jgroups.protocols.BARRIER;
import org.jgroups.protocols.BaseBundler;
import org.jgroups.protocols.FD_ALL3;
import org.jgroups.protocols.FD_SOCK2;
import org.jgroups.protocols.FRAG2;
import org.jgroups.protocols.MERGE3;
import org.jgroups.protocols.MFC;
import org.jgroups.protocols.TCP;
import org.jgroups.protocols.TCPPING;
import org.jgroups.protocols.UFC;
import org.jgroups.protocols.UNICAST3;
import org.jgroups.protocols.VERIFY_SUSPECT2;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.protocols.pbcast.NAKACK2;
import org.jgroups.protocols.pbcast.STABLE;
import org.jgroups.stack.Protocol;

/**
 * The raw JGroups baseline: three bare JChannels on loopback with the stack Chorus uses minus its guard (TCP,
 * TCPPING, MERGE3, FD_SOCK2, FD_ALL3, VERIFY_SUSPECT2, BARRIER, NAKACK2, UNICAST3, STABLE, GMS, MFC, UFC,
 * FRAG2). The publisher multicasts the 64 bytes as they are; each receiver times them in {@code receive} on
 * JGroups' own thread, with no envelopes, sequencing or delivery threads.
 */
final class RawJGroupsFanOut implements FanOut {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);

    private final List<JChannel> channels = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final LongAdder failures = new LongAdder();
    private final JChannel publisher;

    RawJGroupsFanOut(int receiverCount) {
        List<Integer> ports = JGroupsBench.freePorts(receiverCount + 1);
        String cluster = JGroupsBench.uniqueCluster("raw");
        try {
            publisher = channel(ports, 0).connect(cluster);
            for (int i = 0; i < receiverCount; i++) {
                Receiver receiver = new Receiver();
                receivers.add(receiver);
                JChannel channel = channel(ports, i + 1);
                channel.setReceiver(new org.jgroups.Receiver() {
                    @Override
                    public void receive(Message msg) {
                        byte[] payload = msg.getArray();
                        if (msg.getOffset() != 0 || msg.getLength() != payload.length) {
                            payload = java.util.Arrays.copyOfRange(
                                    payload, msg.getOffset(), msg.getOffset() + msg.getLength());
                        }
                        receiver.accept(payload, System.nanoTime());
                    }
                });
                channel.connect(cluster);
            }
            long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
            while (channels.stream().anyMatch(c -> c.getView().size() < receiverCount + 1)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(
                            "raw JGroups channels did not form one view within " + CONNECT_TIMEOUT.toSeconds() + " s: "
                                    + channels.get(0).getView());
                }
                Thread.onSpinWait();
                Thread.yield();
            }
        } catch (Exception e) {
            close();
            throw new IllegalStateException("could not start the raw JGroups baseline: " + e, e);
        }
    }

    private JChannel channel(List<Integer> ports, int index) throws Exception {
        List<Protocol> stack = new ArrayList<>();
        stack.add(new TCP()
                .tcpNodelay(true) // as Chorus sets it
                .setBindAddress(JGroupsBench.LOOPBACK)
                .setBindPort(ports.get(index))
                .setPortRange(0));
        stack.add(new TCPPING().setInitialHosts(JGroupsBench.addresses(ports)).setPortRange(0));
        stack.add(new MERGE3());
        stack.add(new FD_SOCK2().setBindAddress(JGroupsBench.LOOPBACK));
        stack.add(new FD_ALL3());
        stack.add(new VERIFY_SUSPECT2());
        stack.add(new BARRIER());
        stack.add(new NAKACK2().useMcastXmit(false));
        stack.add(new UNICAST3());
        stack.add(new STABLE());
        stack.add(new GMS().printLocalAddress(false));
        stack.add(new MFC());
        stack.add(new UFC());
        stack.add(new FRAG2());
        JChannel channel = new JChannel(stack).setDiscardOwnMessages(true);
        if (channel.getProtocolStack().getTransport().getBundler() instanceof BaseBundler bundler) {
            bundler.dropWhenFull(false); // as Chorus sets it
        }
        channels.add(channel);
        return channel;
    }

    @Override
    public String variant() {
        return "raw JGroups send/receive";
    }

    @Override
    public List<Receiver> receivers() {
        return receivers;
    }

    @Override
    public void publish(byte[] payload) {
        try {
            publisher.send(new BytesMessage(null, payload).setFlag(Message.TransientFlag.DONT_LOOPBACK));
        } catch (Exception e) {
            failures.increment();
        }
    }

    @Override
    public long lossSignals() {
        return failures.sum();
    }

    @Override
    public void close() {
        for (int i = channels.size() - 1; i >= 0; i--) {
            channels.get(i).close();
        }
    }
}
