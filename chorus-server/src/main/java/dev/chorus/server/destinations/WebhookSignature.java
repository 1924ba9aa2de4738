package dev.chorus.server.destinations;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Webhook signing in the Standard Webhooks form (standardwebhooks.com): a secret {@code whsec_<base64>}, and
 * per message the headers {@code webhook-id}, {@code webhook-timestamp} (unix seconds) and
 * {@code webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">}, keyed with the decoded
 * secret. Receivers verify with any Standard Webhooks library or the snippets in {@code docs/webhooks.md}.
 */
public final class WebhookSignature {

    /** The prefix of every secret. */
    public static final String SECRET_PREFIX = "whsec_";
    /** Random bytes in a secret: the size of an HMAC-SHA256 key. */
    public static final int SECRET_BYTES = 32;
    /** The message id header. */
    public static final String ID_HEADER = "webhook-id";
    /** The timestamp header. */
    public static final String TIMESTAMP_HEADER = "webhook-timestamp";
    /** The signature header. */
    public static final String SIGNATURE_HEADER = "webhook-signature";

    private static final SecureRandom RANDOM = new SecureRandom();

    private WebhookSignature() {}

    /** A new secret: {@code whsec_} and the base64 of 32 random bytes. */
    public static String newSecret() {
        byte[] key = new byte[SECRET_BYTES];
        RANDOM.nextBytes(key);
        return SECRET_PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /**
     * {@code v1,<signature>} of one attempt.
     *
     * @throws IllegalArgumentException when {@code secret} is not {@code whsec_<base64>}
     */
    public static String sign(String secret, String id, long timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(secret), "HmacSHA256"));
            mac.update((id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
        }
    }

    /**
     * The {@code webhook-id} of one event sent to one destination: the same for every retry, so receivers can
     * drop a copy, and different for each destination, so ids are unique across messages.
     */
    public static String messageId(String destinationId, String eventKey) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest((destinationId + "\n" + eventKey).getBytes(StandardCharsets.UTF_8));
            return "msg_"
                    + Base64.getUrlEncoder()
                            .withoutPadding()
                            .encodeToString(digest)
                            .substring(0, 27);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static byte[] key(String secret) {
        if (!secret.startsWith(SECRET_PREFIX)) {
            throw new IllegalArgumentException("a webhook secret starts with '" + SECRET_PREFIX + "'");
        }
        try {
            return Base64.getDecoder().decode(secret.substring(SECRET_PREFIX.length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("a webhook secret is '" + SECRET_PREFIX + "' and base64", e);
        }
    }
}
