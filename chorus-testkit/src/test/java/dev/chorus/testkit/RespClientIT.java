package dev.chorus.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class RespClientIT {

    @Test
    void readsEveryResp2ReplyType() {
        TestRedis server = TestRedis.server();
        try (TestRedis.Namespace namespace = server.newNamespace("resp");
                RespClient client = server.client()) {
            String counter = namespace.key("counter");
            String list = namespace.key("list");

            assertThat(client.send("PING")).isEqualTo(new RespReply.SimpleString("PONG"));
            assertThat(client.send("INCRBY", counter, "41").asLong()).isEqualTo(41);
            assertThat(client.send("GET", counter).asString()).isEqualTo("41");
            assertThat(client.send("GET", namespace.key("missing")).isNull()).isTrue();
            client.send("RPUSH", list, "a", "", "c");
            assertThat(client.send("LRANGE", list, "0", "-1").asList())
                    .extracting(RespReply::asString)
                    .containsExactly("a", "", "c");
            assertThat(client.send("LRANGE", namespace.key("nothing"), "0", "-1")
                            .asList())
                    .isEmpty();

            RespReply error = client.send("NO-SUCH-COMMAND");
            assertThat(error.isError()).isTrue();
            assertThat(((RespReply.ErrorReply) error).message()).startsWith("ERR");
            assertThatThrownBy(error::asString).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void sendsAndReceivesArbitraryBytes() {
        TestRedis server = TestRedis.server();
        byte[] garbage = {0, (byte) 0xff, '\r', '\n', '$', '*', (byte) 0x80};
        try (TestRedis.Namespace namespace = server.newNamespace("bytes");
                RespClient subscriber = server.client();
                RespClient publisher = server.client()) {
            String channel = namespace.channel("garbage");
            subscriber.write("SUBSCRIBE", channel);
            assertThat(subscriber.read().asList().get(0).asString()).isEqualTo("subscribe");

            long receivers = publisher
                    .send("PUBLISH".getBytes(UTF_8), channel.getBytes(UTF_8), garbage)
                    .asLong();

            assertThat(receivers).isEqualTo(1);
            List<RespReply> message = subscriber.read().asList();
            assertThat(message.get(0).asString()).isEqualTo("message");
            assertThat(((RespReply.BulkString) message.get(2)).bytes()).isEqualTo(garbage);
        }
    }
}
