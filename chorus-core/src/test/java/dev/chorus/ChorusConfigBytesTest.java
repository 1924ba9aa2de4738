package dev.chorus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Issue 20: the byte bounds' variables, their defaults and their validation. */
class ChorusConfigBytesTest {

    @Test
    void unset_givesTheDocumentedDefaults() {
        ChorusConfig config = ChorusConfig.defaults();
        assertThat(config.eventHistoryBytes()).isEqualTo(32L << 20);
        assertThat(config.eventQueueBytes()).isEqualTo(4L << 20);
        assertThat(config.cacheMaxBytes()).isEqualTo(32L << 20);
        assertThat(config.sendQueueBytes()).isEqualTo(32L << 20);
        assertThat(config.receiveQueueBytes()).isEqualTo(32L << 20);
    }

    @Test
    void sizes_acceptUnits() {
        ChorusConfig config = ChorusConfig.from(Map.of(
                ChorusConfig.EVENTS_HISTORY_BYTES, "1GiB",
                ChorusConfig.EVENTS_QUEUE_BYTES, "512k",
                ChorusConfig.CACHE_MAX_BYTES, "64 MB",
                ChorusConfig.SEND_QUEUE_BYTES, "65536",
                ChorusConfig.RECEIVE_QUEUE_BYTES, "2m")::get);
        assertThat(config.eventHistoryBytes()).isEqualTo(1L << 30);
        assertThat(config.eventQueueBytes()).isEqualTo(512L << 10);
        assertThat(config.cacheMaxBytes()).isEqualTo(64L << 20);
        assertThat(config.sendQueueBytes()).isEqualTo(65_536);
        assertThat(config.receiveQueueBytes()).isEqualTo(2L << 20);
    }

    @Test
    void badSizes_areAllReported_withTheRangeAndAnExample() {
        assertThatThrownBy(() -> ChorusConfig.from(Map.of(
                        ChorusConfig.SEND_QUEUE_BYTES, "1k",
                        ChorusConfig.EVENTS_QUEUE_BYTES, "lots",
                        ChorusConfig.RECEIVE_QUEUE_BYTES, "99999999999999999999")::get))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("3 configuration problems")
                .hasMessageContaining("CHORUS_SEND_QUEUE_BYTES='1k' is not a size from 64KiB to 1TiB")
                .hasMessageContaining("CHORUS_EVENTS_QUEUE_BYTES=4MiB")
                .hasMessageContaining(ChorusConfig.RECEIVE_QUEUE_BYTES);
    }
}
