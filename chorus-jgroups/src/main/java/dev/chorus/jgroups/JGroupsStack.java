package dev.chorus.jgroups;

import dev.chorus.ChorusConfig.Discovery;
import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.Secret;
import dev.chorus.jgroups.JGroupsBackplane.Builder;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import javax.crypto.spec.SecretKeySpec;
import org.jgroups.protocols.BARRIER;
import org.jgroups.protocols.DISCARD;
import org.jgroups.protocols.FD_ALL3;
import org.jgroups.protocols.FD_SOCK2;
import org.jgroups.protocols.FRAG2;
import org.jgroups.protocols.MERGE3;
import org.jgroups.protocols.MFC;
import org.jgroups.protocols.PING;
import org.jgroups.protocols.SERIALIZE;
import org.jgroups.protocols.SYM_ENCRYPT;
import org.jgroups.protocols.TCP;
import org.jgroups.protocols.TCPPING;
import org.jgroups.protocols.TP;
import org.jgroups.protocols.UDP;
import org.jgroups.protocols.UFC;
import org.jgroups.protocols.UNICAST3;
import org.jgroups.protocols.VERIFY_SUSPECT2;
import org.jgroups.protocols.dns.DNS_PING;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.protocols.pbcast.NAKACK2;
import org.jgroups.protocols.pbcast.STABLE;
import org.jgroups.stack.Protocol;
import org.jspecify.annotations.Nullable;

/*
 * Bottom first: transport (TCP, or UDP for MULTICAST) - [DISCARD, tests only] - ChorusGuard (version and secret
 * tag, refusals logged on both sides) - discovery (TCPPING / DNS_PING / PING) - [SYM_ENCRYPT + SERIALIZE with a
 * secret] - MERGE3 - FD_SOCK2 - FD_ALL3 - VERIFY_SUSPECT2 - BARRIER - NAKACK2 - UNICAST3 - STABLE - GMS - MFC -
 * UFC - FRAG2. The keys for the guard tag and SYM_ENCRYPT are derived from the cluster secret here too, so that
 * everything a member must share with its peers to be let in is decided in one place.
 */

/** The JGroups protocol stack of a {@link JGroupsBackplane}, built from its builder's transport, discovery and secret. */
final class JGroupsStack {

    /** Where DISCARD sits when fault injection is on: right above the transport, so it cuts everything. */
    private static final int DISCARD_INDEX = 1;

    private JGroupsStack() {}

    /** The protocols, bottom first, for a backplane configured by {@code b}; ChorusGuard reports refusals to {@code refusals}. */
    static List<Protocol> protocols(Builder b, Consumer<String> refusals) {
        List<Protocol> stack = new ArrayList<>();
        TP transport;
        if (b.discovery == Discovery.MULTICAST) {
            UDP udp = new UDP();
            udp.setMulticastPort(b.multicastPort);
            if (b.multicastAddress != null) {
                udp.setMulticastAddress(b.multicastAddress);
            }
            transport = udp;
        } else {
            // JGroups leaves Nagle on by default: a steady stream of small frames then waits for delayed ACKs,
            // measured as p50 1.9 ms and p99 24-30 ms at 100-5,000 messages/s instead of well under 1 ms.
            transport = new TCP().tcpNodelay(true);
        }
        transport.setBindAddress(b.bindAddress);
        transport.setBindPort(b.port);
        transport.setPortRange(b.portRange);
        stack.add(transport);
        if (b.faultInjection) {
            stack.add(new DISCARD().discardAll(false)); // DISCARD_INDEX
        }
        long tag = secretTag(b.secret);
        stack.add(new ChorusGuard(b.wireVersion, tag, refusals));
        stack.add(discovery(b));
        if (b.secret != null) {
            stack.add(new SYM_ENCRYPT().setSecretKey(new SecretKeySpec(derive(b.secret, "sym-encrypt-aes-v1"), "AES")));
            stack.add(new SERIALIZE());
        }
        stack.add(new MERGE3().setMinInterval(b.mergeMin.toMillis()).setMaxInterval(b.mergeMax.toMillis()));
        stack.add(new FD_SOCK2().setBindAddress(b.bindAddress));
        long timeout = b.failureTimeout.toMillis();
        stack.add(new FD_ALL3().setTimeout(timeout).setInterval(Math.max(100, timeout / 4)));
        stack.add(new VERIFY_SUSPECT2().setTimeout(Math.max(200, timeout / 4)));
        stack.add(new BARRIER());
        stack.add(new NAKACK2().useMcastXmit(false));
        stack.add(new UNICAST3());
        stack.add(new STABLE());
        stack.add(new GMS().setJoinTimeout(b.joinTimeout.toMillis()).printLocalAddress(false));
        stack.add(new MFC());
        stack.add(new UFC());
        stack.add(new FRAG2());
        return stack;
    }

    private static Protocol discovery(Builder b) {
        return switch (b.discovery) {
            case MULTICAST -> new PING();
            case TCP -> {
                List<InetSocketAddress> hosts = new ArrayList<>();
                for (HostPort h : b.initialHosts) {
                    hosts.add(new InetSocketAddress(h.host(), h.port()));
                }
                TCPPING ping = new TCPPING();
                ping.setInitialHosts(hosts);
                ping.setPortRange(b.portRange);
                yield ping;
            }
            case DNS -> {
                String query = b.dnsQuery;
                DNS_PING ping = new DNS_PING().dnsQuery(query).dnsRecordType(query.startsWith("_") ? "SRV" : "A");
                if (b.dnsAddress != null) {
                    ping.dnsAddress(b.dnsAddress);
                }
                yield ping;
            }
        };
    }

    /**
     * A key derived from the cluster secret for one purpose (HKDF-SHA256, {@link Secret#derive}), so the
     * plaintext member tag reveals neither the encryption key nor the envelope MAC key.
     */
    static byte[] derive(Secret secret, String purpose) {
        return secret.derive("chorus jgroups " + purpose);
    }

    static long secretTag(@Nullable Secret secret) {
        if (secret == null) {
            return 0;
        }
        long tag = ByteBuffer.wrap(derive(secret, "guard-tag-v1")).getLong();
        return tag == 0 ? 1 : tag;
    }

    /** The test-only DISCARD protocol in {@code stack}, or null when it was built without fault injection. */
    static @Nullable DISCARD discard(List<Protocol> stack) {
        return stack.size() > DISCARD_INDEX && stack.get(DISCARD_INDEX) instanceof DISCARD discard ? discard : null;
    }
}
