package dev.chorus.server.destinations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Signatures are the Standard Webhooks ones: the specification's published test vector reproduces, secrets
 * have its form, and message ids are stable for one event and destination and differ otherwise.
 */
class WebhookSignatureTest {

    @Test
    void sign_theStandardWebhooksTestVector_reproducesExactly() {
        // The vector the Standard Webhooks reference libraries test against: a receiver's library accepts ours.
        String signature = WebhookSignature.sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                "{\"test\": 2432232314}".getBytes(StandardCharsets.UTF_8));

        assertThat(signature).isEqualTo("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    @Test
    void newSecret_isWhsecAndThirtyTwoRandomBytes() {
        Set<String> secrets = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            String secret = WebhookSignature.newSecret();
            assertThat(secret).startsWith("whsec_");
            assertThat(Base64.getDecoder().decode(secret.substring(6))).hasSize(32);
            secrets.add(secret);
        }
        assertThat(secrets).hasSize(100);
    }

    @Test
    void messageId_stableForOneEventAndDestination_distinctOtherwise() {
        String id = WebhookSignature.messageId("4:acme:d1", "resource.changed:acme/orders/1@3");

        assertThat(id)
                .startsWith("msg_")
                .isEqualTo(WebhookSignature.messageId("4:acme:d1", "resource.changed:acme/orders/1@3"));
        assertThat(WebhookSignature.messageId("4:acme:d2", "resource.changed:acme/orders/1@3"))
                .isNotEqualTo(id);
        assertThat(WebhookSignature.messageId("4:acme:d1", "resource.changed:acme/orders/1@4"))
                .isNotEqualTo(id);
    }

    @Test
    void sign_aSecretNotInTheWhsecForm_isRefused() {
        assertThatThrownBy(() -> WebhookSignature.sign("plain", "msg_1", 1, new byte[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("whsec_");
    }
}
