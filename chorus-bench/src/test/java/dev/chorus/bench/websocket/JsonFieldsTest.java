package dev.chorus.bench.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The field reader on frames shaped as the reference server writes them. */
class JsonFieldsTest {

    private static final byte[] EVENT = bytes(
            "{\"type\":\"event\",\"id\":\"Af-oy4yl\",\"event\":\"bench.tick\",\"data\":{\"t\":1765123456789012}}");
    private static final byte[] HELLO =
            bytes("{\"type\":\"hello\",\"id\":\"AAA\",\"replica\":\"r\",\"reconnectJitterMs\": 1500}");

    @Test
    void stringEquals_typeOfAnEvent_matchesOnlyItsType() {
        assertThat(JsonFields.stringEquals(EVENT, 0, EVENT.length, JsonFields.key("type"), bytes("event")))
                .isTrue();
        assertThat(JsonFields.stringEquals(EVENT, 0, EVENT.length, JsonFields.key("type"), bytes("even")))
                .isFalse();
        assertThat(JsonFields.stringEquals(EVENT, 0, EVENT.length, JsonFields.key("type"), bytes("hello")))
                .isFalse();
    }

    @Test
    void stringAndNumber_presentFields_areRead() {
        assertThat(JsonFields.string(EVENT, 0, EVENT.length, JsonFields.key("id")))
                .isEqualTo("Af-oy4yl");
        assertThat(JsonFields.number(EVENT, 0, EVENT.length, JsonFields.key("t"), -1))
                .isEqualTo(1765123456789012L);
        assertThat(JsonFields.number(HELLO, 0, HELLO.length, JsonFields.key("reconnectJitterMs"), -1))
                .isEqualTo(1500);
    }

    @Test
    void numberAndString_absentFields_areAbsent() {
        assertThat(JsonFields.number(EVENT, 0, EVENT.length, JsonFields.key("reconnectJitterMs"), -1))
                .isEqualTo(-1);
        assertThat(JsonFields.string(HELLO, 0, HELLO.length, JsonFields.key("lastId")))
                .isNull();
        // A frame cut short reads nothing past its end.
        assertThat(JsonFields.string(EVENT, 0, 24, JsonFields.key("id"))).isNull();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
