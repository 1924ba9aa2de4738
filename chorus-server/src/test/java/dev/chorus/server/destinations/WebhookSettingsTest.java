package dev.chorus.server.destinations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ConfigurationException;
import dev.chorus.server.ServerConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The webhook settings: closed by default, read when set, and bad values refused naming the fix. */
class WebhookSettingsTest {

    @Test
    void defaults_publicOnly_noAllowList_aHundredPerTenant() {
        WebhookSettings settings = WebhookSettings.from(ServerConfig.from(Map.of()));

        assertThat(settings).isEqualTo(WebhookSettings.closed());
        assertThat(settings.allowPrivate()).isFalse();
        assertThat(settings.allowedHosts()).isEmpty();
        assertThat(settings.maxPerTenant()).isEqualTo(100);
    }

    @Test
    void settings_areRead() {
        WebhookSettings settings = WebhookSettings.from(ServerConfig.from(Map.of(
                "CHORUS_WEBHOOK_HOSTS", "hooks.example.org, 10.0.0.5",
                "CHORUS_WEBHOOK_ALLOW_PRIVATE", "true",
                "CHORUS_WEBHOOK_MAX_PER_TENANT", "3")));

        assertThat(settings.allowedHosts()).containsExactlyInAnyOrder("hooks.example.org", "10.0.0.5");
        assertThat(settings.allowPrivate()).isTrue();
        assertThat(settings.maxPerTenant()).isEqualTo(3);
    }

    @Test
    void badValues_areRefusedNamingTheVariable() {
        assertThatThrownBy(
                        () -> WebhookSettings.from(ServerConfig.from(Map.of("CHORUS_WEBHOOK_ALLOW_PRIVATE", "maybe"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_WEBHOOK_ALLOW_PRIVATE='maybe' is not true or false");
        assertThatThrownBy(() -> WebhookSettings.from(ServerConfig.from(Map.of("CHORUS_WEBHOOK_MAX_PER_TENANT", "-1"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_WEBHOOK_MAX_PER_TENANT='-1'")
                .hasMessageContaining("CHORUS_WEBHOOK_MAX_PER_TENANT=100");
        assertThatThrownBy(() -> WebhookSettings.from(
                        ServerConfig.from(Map.of("CHORUS_WEBHOOK_HOSTS", "https://hooks.example.org/in"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("entry 'https://hooks.example.org/in' is not a host");
    }
}
