package dev.chorus.server.destinations;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Which webhook targets this replica may reach: a check of the URL alone (at creation and when a replica
 * builds its sender) and a check of every address a host resolves to (at creation and before every
 * connection, so a name that is re-pointed inward after it was accepted is still refused).
 *
 * <p>Invariants: only addresses this policy returned from {@link #resolve} are ever connected to; a host
 * whose answer mixes public and internal addresses is refused whole; when {@code CHORUS_WEBHOOK_HOSTS} is
 * set no other host is reached, and a host on it may reach private and link-local addresses.
 */
final class TargetPolicy {

    /** Looks a host up; a seam so tests can re-point a name without touching DNS. */
    @FunctionalInterface
    interface Resolver {
        /** Every address of {@code host} (an IPv6 literal may come in brackets, as in a URL). */
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    /** The JDK's resolver (hosts file, then DNS); literals are parsed without a lookup. */
    static final Resolver SYSTEM = InetAddress::getAllByName;

    /** A target this replica may not reach; the message names it, why, and the fix. */
    static final class Blocked extends IllegalArgumentException {

        private static final long serialVersionUID = 1L;

        Blocked(String message) {
            super(message);
        }
    }

    private static final String OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    private static final Pattern IPV4 = Pattern.compile(OCTET + "(\\." + OCTET + "){3}");
    /** A last label no DNS name has: digits or 0x…, as in 2130706433 or 0x7f.1. */
    private static final Pattern NUMERIC_LABEL = Pattern.compile("[0-9]+|0x[0-9a-f]*");

    private final Set<String> allowedHosts;
    private final boolean allowPrivate;
    private final Resolver resolver;

    TargetPolicy(Set<String> allowedHosts, boolean allowPrivate, Resolver resolver) {
        this.allowedHosts = allowedHosts.stream().map(TargetPolicy::normalize).collect(Collectors.toUnmodifiableSet());
        this.allowPrivate = allowPrivate;
        this.resolver = resolver;
    }

    /**
     * Checks what the URL alone says: its host is on the allow-list (when there is one), is not an IPv4
     * address in a form other than four decimal numbers, and, when it is an address, may be reached.
     *
     * @throws Blocked naming the URL and the fix
     */
    void checkUrl(URI uri) {
        String host = host(uri);
        String normalized = normalize(host);
        if (!allowedHosts.isEmpty() && !allowedHosts.contains(normalized)) {
            throw new Blocked("url host '" + host + "' is not in " + WebhookSettings.HOSTS
                    + ", the hosts this server sends webhooks to; use one of those hosts, or ask the operator to"
                    + " add '" + normalized + "' to " + WebhookSettings.HOSTS + " on every replica");
        }
        Optional<InetAddress> literal = literal(host);
        if (literal.isEmpty() && normalized.contains(":")) {
            throw new Blocked(
                    "url host '" + host + "' is not a valid IPv6 address; write it as in http://[2001:db8::1]/");
        }
        if (literal.isEmpty()) {
            String[] labels = normalized.split("\\.");
            if (NUMERIC_LABEL.matcher(labels[labels.length - 1]).matches()) {
                // Resolvers read 2130706433, 0x7f.1 or 127.1 as addresses, each its own way: refuse the doubt.
                throw new Blocked("url host '" + host + "' looks like an IPv4 address in a shortened, octal or"
                        + " hexadecimal form; write an address as four decimal numbers (for example 203.0.113.7)"
                        + " or use a host name");
            }
            return;
        }
        AddressKind kind = AddressKind.of(literal.get());
        if (!permitted(kind, normalized)) {
            throw new Blocked("url '" + uri + "' reaches " + literal.get().getHostAddress() + ", " + kind.label()
                    + " address; " + fix(kind));
        }
    }

    /**
     * Checks a new destination: the URL, then every address its host resolves to now. The message never
     * shows what a name resolved to, so the check cannot be used to map an internal network.
     *
     * @throws IllegalArgumentException naming the URL and the fix
     */
    void checkCreation(URI uri) {
        checkUrl(uri);
        String host = host(uri);
        InetAddress[] addresses;
        try {
            addresses = resolver.resolve(host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("url host '" + host + "' does not resolve to an address; check the"
                    + " name (webhooks go to whatever it resolves to at each delivery)");
        }
        for (InetAddress address : addresses) {
            AddressKind kind = AddressKind.of(address);
            if (!permitted(kind, normalize(host))) {
                throw new Blocked("url host '" + host + "' resolves to " + kind.label() + " address; " + fix(kind));
            }
        }
    }

    /**
     * Resolves {@code host} and checks every address, before a connection; the caller connects only to what
     * this returns. The message names the address, for operators.
     *
     * @throws Blocked when the host or any of its addresses may not be reached
     * @throws UnknownHostException when it does not resolve
     */
    List<InetAddress> resolve(String host) throws UnknownHostException {
        String normalized = normalize(host);
        if (!allowedHosts.isEmpty() && !allowedHosts.contains(normalized)) {
            throw new Blocked(host + " is not in " + WebhookSettings.HOSTS);
        }
        InetAddress[] addresses = resolver.resolve(host);
        if (addresses.length == 0) {
            throw new UnknownHostException(host);
        }
        for (InetAddress address : addresses) {
            AddressKind kind = AddressKind.of(address);
            if (!permitted(kind, normalized)) {
                throw new Blocked(host + " resolved to " + address.getHostAddress() + ", " + kind.label()
                        + " address, which this replica may not reach (" + fix(kind) + ")");
            }
        }
        return List.of(addresses);
    }

    private boolean permitted(AddressKind kind, String normalizedHost) {
        boolean listed = allowedHosts.contains(normalizedHost);
        return switch (kind.reach()) {
            case ALWAYS -> true;
            case PRIVATE -> listed || allowPrivate;
            case LISTED -> listed;
            case NEVER -> false;
        };
    }

    private static String fix(AddressKind kind) {
        return switch (kind.reach()) {
            case ALWAYS -> "";
            case PRIVATE ->
                "webhooks reach only public addresses unless the operator lists the host in " + WebhookSettings.HOSTS
                        + " or sets " + WebhookSettings.ALLOW_PRIVATE + "=true on every replica; use a public"
                        + " http(s) URL";
            case LISTED ->
                "link-local addresses (a cloud metadata service lives at 169.254.169.254) are reached only for a"
                        + " host the operator lists in " + WebhookSettings.HOSTS + "; use a public http(s) URL";
            case NEVER -> "such an address is never a webhook receiver; use a public http(s) URL";
        };
    }

    private static String host(URI uri) {
        String host = uri.getHost();
        if (host == null) {
            throw new IllegalArgumentException("url '" + uri + "' has no host");
        }
        return host;
    }

    /**
     * The form hosts are compared in: lower case, no brackets, no trailing dot, and an IPv6 literal in the
     * JDK's canonical text, so {@code [::1]} and {@code 0:0:0:0:0:0:0:1} are the same host.
     */
    static String normalize(String host) {
        String h = host.strip().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (h.contains(":")) {
            return literal(h).map(InetAddress::getHostAddress).orElse(h);
        }
        return h;
    }

    /** The address a host names literally, parsed without any lookup; empty for a name. */
    static Optional<InetAddress> literal(String host) {
        String h = host;
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        if (!h.contains(":") && !IPV4.matcher(h).matches()) {
            return Optional.empty();
        }
        try {
            // In brackets the JDK accepts only an IPv6 literal and never asks DNS; four decimal numbers are a
            // literal to it as well.
            return Optional.of(InetAddress.getAllByName(h.contains(":") ? "[" + h + "]" : h)[0]);
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }
}
