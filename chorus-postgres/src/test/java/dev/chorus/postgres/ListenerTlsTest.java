package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ChorusException;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ListenerTlsTest {

    @TempDir
    Path home;

    @Test
    void mode_followsPgjdbc() {
        assertThat(ListenerTls.mode(Map.of())).isEqualTo(SslMode.PREFER);
        assertThat(ListenerTls.mode(Map.of("ssl", "true"))).isEqualTo(SslMode.VERIFY_FULL);
        assertThat(ListenerTls.mode(Map.of("ssl", "false"))).isEqualTo(SslMode.PREFER);
        assertThat(ListenerTls.mode(Map.of("sslmode", "VERIFY_CA"))).isEqualTo(SslMode.VERIFY_CA);
        assertThat(ListenerTls.mode(Map.of("sslmode", "disable", "ssl", "true")))
                .isEqualTo(SslMode.DISABLE);
        assertThatThrownBy(() -> ListenerTls.mode(Map.of("sslmode", "strict")))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("'strict'")
                .hasMessageContaining("verify-full");
    }

    @Test
    void require_encryptsWithoutVerifying_likePgjdbc() {
        PgConnectOptions options = new PgConnectOptions();
        ListenerTls.apply(options, Map.of("sslmode", "require"), home);
        assertThat(options.getSslMode()).isEqualTo(SslMode.REQUIRE);
        assertThat(options.getSslOptions().isTrustAll()).isTrue();
    }

    @Test
    void verifyFull_withoutRootCertificate_namesTheDefaultFileAndTheParameter() {
        assertThatThrownBy(() -> ListenerTls.apply(new PgConnectOptions(), Map.of("sslmode", "verify-full"), home))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining(home.resolve(".postgresql/root.crt").toString())
                .hasMessageContaining("sslrootcert=");
    }

    @Test
    void sslfactory_isRefusedRatherThanIgnored() {
        assertThatThrownBy(() -> ListenerTls.apply(
                        new PgConnectOptions(), Map.of("sslfactory", "org.postgresql.ssl.NonValidatingFactory"), home))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("sslfactory");
    }
}
