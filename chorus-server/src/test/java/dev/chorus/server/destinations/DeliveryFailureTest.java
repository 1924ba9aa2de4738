package dev.chorus.server.destinations;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What tenants see of a last error: its class, never the socket error, the address or the port. */
class DeliveryFailureTest {

    @Test
    void forTenant_keepsTheClassOnly() {
        assertThat(DeliveryFailure.forTenant(
                        DeliveryFailure.REFUSED.describe("ConnectException Connection refused (10.0.0.1:5432)")))
                .isEqualTo("connection refused");
        assertThat(DeliveryFailure.forTenant("redirect: HTTP 302 to http://127.0.0.1/"))
                .isEqualTo("redirect");
        assertThat(DeliveryFailure.forTenant("blocked address")).isEqualTo("blocked address");
        assertThat(DeliveryFailure.forTenant(null)).isNull();
    }

    @Test
    void forTenant_textWithoutAKnownClass_becomesError() {
        assertThat(DeliveryFailure.forTenant("ConnectException: Connection refused"))
                .isEqualTo("error");
        assertThat(DeliveryFailure.forTenant("timeouts: 10.0.0.1")).isEqualTo("error");
    }
}
