package dev.chorus.server.destinations;

import java.util.Optional;

/**
 * A destination's id in the registry: {@code <length of tenant>:<tenant>:<id>}, for example
 * {@code 4:acme:9b2c…}.
 *
 * <p>Invariant: the length prefix makes the encoding injective, whatever characters a tenant's name holds,
 * so no tenant's ids are a prefix or a suffix of another's ({@code acme} and {@code acme/eu},
 * {@code acme} and {@code acme:1}); a tenant's entries are found by decoding and comparing the tenant
 * exactly, never by matching a string prefix.
 *
 * @param tenant the tenant, any non-empty string
 * @param id the destination's id inside its tenant
 */
record DestinationKey(String tenant, String id) {

    /**
     * The longest tenant name a key holds: with a length of three digits, two colons and a 36-character
     * UUID it stays within the registry's 200-character ids.
     */
    static final int MAX_TENANT = 150;

    /** The registry id. */
    String encode() {
        return tenant.length() + ":" + tenant + ":" + id;
    }

    /** The key a registry id encodes, or empty for an id not written by {@link #encode()}. */
    static Optional<DestinationKey> decode(String encoded) {
        int colon = encoded.indexOf(':');
        if (colon < 1 || colon > 9) {
            return Optional.empty();
        }
        int length;
        try {
            length = Integer.parseInt(encoded, 0, colon, 10);
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        int tenantEnd = colon + 1 + length;
        if (length < 1
                || !Integer.toString(length).equals(encoded.substring(0, colon))
                || tenantEnd >= encoded.length()
                || encoded.charAt(tenantEnd) != ':') {
            return Optional.empty();
        }
        return Optional.of(
                new DestinationKey(encoded.substring(colon + 1, tenantEnd), encoded.substring(tenantEnd + 1)));
    }
}
