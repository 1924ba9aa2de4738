package dev.chorus.bench;

import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * The raw Redis baseline: bare Lettuce pub/sub with no envelopes, frames or delivery threads. One publishing
 * connection sends the 64 bytes as they are; one subscriber connection per receiver, each on its own client,
 * times the payload in its {@code RedisPubSubListener} on the Lettuce event loop.
 *
 * <p>{@link Publishing#SYNC} waits for each PUBLISH's reply (one command on the wire at a time);
 * {@link Publishing#PIPELINED} sends without waiting (Lettuce writes and flushes each command, replies come
 * back asynchronously), so only the driver's window bounds what is in flight.
 *
 * <p>A subscriber that falls too far behind is disconnected by Redis ({@code client-output-buffer-limit
 * pubsub}, 32 MB by default) and loses what follows. That is never silent here: clients do not reconnect, so
 * the missing deliveries count as loss, and both the disconnect and PUBLISH replies naming fewer subscribers
 * than expected are counted as loss signals.
 */
final class RawRedisFanOut implements FanOut {

    /** How the publisher sends. */
    enum Publishing {
        SYNC("raw Lettuce sync PUBLISH"),
        PIPELINED("raw Lettuce async PUBLISH (pipelined)");

        final String variant;

        Publishing(String variant) {
            this.variant = variant;
        }
    }

    private final Publishing publishing;
    private final byte[] channel;
    private final int receiverCount;
    private final List<Receiver> receivers = new ArrayList<>();
    private final List<RedisClient> clients = new ArrayList<>();
    private final LongAdder failures = new LongAdder();
    private final LongAdder shortReplies = new LongAdder();
    private final LongAdder cutOffs = new LongAdder();
    private final RedisCommands<byte[], byte[]> sync;
    private final RedisAsyncCommands<byte[], byte[]> async;
    private volatile boolean closing;

    RawRedisFanOut(BenchRedis redis, int receiverCount, Publishing publishing) {
        this.publishing = publishing;
        this.channel =
                redis.uniqueChannel(publishing.name().toLowerCase(Locale.ROOT)).getBytes(StandardCharsets.UTF_8);
        this.receiverCount = receiverCount;
        try {
            for (int i = 0; i < receiverCount; i++) {
                Receiver receiver = new Receiver();
                receivers.add(receiver);
                RedisClient client = client(redis);
                StatefulRedisPubSubConnection<byte[], byte[]> subscriber =
                        client.connectPubSub(ByteArrayCodec.INSTANCE, redis.uri());
                subscriber.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(byte[] from, byte[] message) {
                        receiver.accept(message, System.nanoTime());
                    }
                });
                // The reply to SUBSCRIBE means the server has registered it: every later PUBLISH reaches it.
                subscriber.sync().subscribe(channel);
            }
            StatefulRedisConnection<byte[], byte[]> connection =
                    client(redis).connect(ByteArrayCodec.INSTANCE, redis.uri());
            this.sync = connection.sync();
            this.async = connection.async();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private RedisClient client(BenchRedis redis) {
        RedisClient client = redis.rawClient();
        clients.add(client);
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
                if (!closing) {
                    cutOffs.increment();
                }
            }
        });
        return client;
    }

    @Override
    public String variant() {
        return publishing.variant;
    }

    @Override
    public List<Receiver> receivers() {
        return receivers;
    }

    @Override
    public void publish(byte[] payload) {
        if (publishing == Publishing.SYNC) {
            try {
                countReply(sync.publish(channel, payload));
            } catch (RuntimeException e) {
                failures.increment();
            }
        } else {
            async.publish(channel, payload).whenComplete((subscribers, failure) -> {
                if (failure != null) {
                    failures.increment();
                } else {
                    countReply(subscribers);
                }
            });
        }
    }

    private void countReply(Long subscribers) {
        if (subscribers < receiverCount) {
            shortReplies.increment();
        }
    }

    @Override
    public long lossSignals() {
        return failures.sum() + shortReplies.sum() + cutOffs.sum();
    }

    /** Connections the server closed on us (a subscriber cut off at the output-buffer limit, a restart). */
    long cutOffs() {
        return cutOffs.sum();
    }

    /** PUBLISH replies that named fewer subscribers than there are receivers. */
    long shortReplies() {
        return shortReplies.sum();
    }

    @Override
    public void close() {
        closing = true;
        clients.forEach(BenchRedis::shutdown);
    }
}
