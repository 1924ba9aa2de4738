package dev.chorus.server.destinations;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * What kind of network an address belongs to, and so who may let a webhook reach it.
 *
 * <p>Invariants: only {@link #PUBLIC} is reachable by default; an IPv6 address that carries an IPv4 one
 * (IPv4-mapped {@code ::ffff:a.b.c.d}, IPv4-compatible {@code ::a.b.c.d}, NAT64 {@code 64:ff9b::/96}, 6to4
 * {@code 2002::/16}) is judged by the IPv4 address it reaches; IPv6 outside global unicast {@code 2000::/3}
 * and the kinds below is {@link #RESERVED}. Anything not proven public is treated as not public.
 */
enum AddressKind {
    /** A global unicast address. */
    PUBLIC("a public", Reach.ALWAYS),
    /** 127.0.0.0/8, ::1: this machine. */
    LOOPBACK("a loopback", Reach.PRIVATE),
    /** 10/8, 172.16/12, 192.168/16, fec0::/10 (site-local). */
    PRIVATE("a private", Reach.PRIVATE),
    /** 100.64.0.0/10, carrier-grade NAT space. */
    SHARED("a shared (carrier-grade NAT)", Reach.PRIVATE),
    /** fc00::/7, and the local-use NAT64 prefix 64:ff9b:1::/48. */
    UNIQUE_LOCAL("a unique-local", Reach.PRIVATE),
    /** 169.254.0.0/16 (cloud metadata services live at 169.254.169.254), fe80::/10. */
    LINK_LOCAL("a link-local", Reach.LISTED),
    /** 0.0.0.0/8, ::; connecting to 0.0.0.0 reaches this machine. */
    UNSPECIFIED("an unspecified", Reach.NEVER),
    /** 224.0.0.0/4, ff00::/8. */
    MULTICAST("a multicast", Reach.NEVER),
    /** 255.255.255.255. */
    BROADCAST("a broadcast", Reach.NEVER),
    /** 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32: never routed. */
    DOCUMENTATION("a documentation", Reach.NEVER),
    /** 240/4, 192.0.0/24, 198.18/15, Teredo, discard-only and unallocated IPv6 space. */
    RESERVED("a reserved", Reach.NEVER);

    /** Who may let a webhook reach an address of a kind. */
    enum Reach {
        /** Anyone: the default. */
        ALWAYS,
        /** A host listed in {@code CHORUS_WEBHOOK_HOSTS}, or any host with {@code CHORUS_WEBHOOK_ALLOW_PRIVATE}. */
        PRIVATE,
        /** Only a host listed in {@code CHORUS_WEBHOOK_HOSTS}: the switch alone does not open cloud metadata. */
        LISTED,
        /** No one: never a webhook receiver. */
        NEVER
    }

    private final String label;
    private final Reach reach;

    AddressKind(String label, Reach reach) {
        this.label = label;
        this.reach = reach;
    }

    /** How messages name the kind, with its article: "a loopback" (address). */
    String label() {
        return label;
    }

    /** Who may let a webhook reach it. */
    Reach reach() {
        return reach;
    }

    /** The kind of {@code address}. */
    static AddressKind of(InetAddress address) {
        byte[] b = address.getAddress();
        if (address instanceof Inet4Address) {
            return ofIpv4(b);
        }
        if (address instanceof Inet6Address) {
            return ofIpv6(b);
        }
        return RESERVED;
    }

    private static AddressKind ofIpv4(byte[] b) {
        int a0 = b[0] & 0xff;
        int a1 = b[1] & 0xff;
        int a2 = b[2] & 0xff;
        int a3 = b[3] & 0xff;
        if (a0 == 0) {
            return UNSPECIFIED;
        }
        if (a0 == 127) {
            return LOOPBACK;
        }
        if (a0 == 10 || (a0 == 172 && (a1 & 0xf0) == 16) || (a0 == 192 && a1 == 168)) {
            return PRIVATE;
        }
        if (a0 == 100 && (a1 & 0xc0) == 64) {
            return SHARED;
        }
        if (a0 == 169 && a1 == 254) {
            return LINK_LOCAL;
        }
        if ((a0 == 192 && a1 == 0 && a2 == 2)
                || (a0 == 198 && a1 == 51 && a2 == 100)
                || (a0 == 203 && a1 == 0 && a2 == 113)) {
            return DOCUMENTATION;
        }
        if (a0 == 255 && a1 == 255 && a2 == 255 && a3 == 255) {
            return BROADCAST;
        }
        if (a0 >= 224 && a0 <= 239) {
            return MULTICAST;
        }
        if (a0 >= 240
                || (a0 == 192 && a1 == 0 && a2 == 0)
                || (a0 == 198 && (a1 & 0xfe) == 18)
                || (a0 == 192 && a1 == 88 && a2 == 99)) {
            return RESERVED;
        }
        return PUBLIC;
    }

    private static AddressKind ofIpv6(byte[] b) {
        if (zero(b, 0, 10) && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
            return ofIpv4(slice(b, 12)); // ::ffff:a.b.c.d, IPv4-mapped
        }
        if (zero(b, 0, 12)) {
            if (zero(b, 12, 15)) {
                int last = b[15] & 0xff;
                if (last == 0) {
                    return UNSPECIFIED;
                }
                if (last == 1) {
                    return LOOPBACK;
                }
            }
            return ofIpv4(slice(b, 12)); // ::a.b.c.d, IPv4-compatible (deprecated, still routed by some stacks)
        }
        int w0 = ((b[0] & 0xff) << 8) | (b[1] & 0xff);
        int w1 = ((b[2] & 0xff) << 8) | (b[3] & 0xff);
        int w2 = ((b[4] & 0xff) << 8) | (b[5] & 0xff);
        if (w0 == 0x0064 && w1 == 0xff9b && zero(b, 4, 12)) {
            return ofIpv4(slice(b, 12)); // NAT64 well-known prefix: the translator reaches the embedded address
        }
        if (w0 == 0x0064 && w1 == 0xff9b && w2 == 0x0001) {
            return UNIQUE_LOCAL; // local-use NAT64, RFC 8215
        }
        if (w0 == 0x2002) {
            return ofIpv4(slice(b, 2)); // 6to4: the embedded IPv4 address is where it goes
        }
        if (w0 == 0x2001 && w1 == 0x0db8) {
            return DOCUMENTATION;
        }
        if (w0 == 0x2001 && w1 == 0x0000) {
            return RESERVED; // Teredo: tunnelled to an address we cannot check
        }
        if ((w0 & 0xfe00) == 0xfc00) {
            return UNIQUE_LOCAL;
        }
        if ((w0 & 0xffc0) == 0xfe80) {
            return LINK_LOCAL;
        }
        if ((w0 & 0xffc0) == 0xfec0) {
            return PRIVATE;
        }
        if ((w0 & 0xff00) == 0xff00) {
            return MULTICAST;
        }
        if ((w0 & 0xe000) == 0x2000) {
            return PUBLIC;
        }
        return RESERVED;
    }

    private static boolean zero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static byte[] slice(byte[] b, int from) {
        return new byte[] {b[from], b[from + 1], b[from + 2], b[from + 3]};
    }
}
