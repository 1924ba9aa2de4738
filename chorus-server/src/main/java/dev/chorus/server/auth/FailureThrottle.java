package dev.chorus.server.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;

/*
 * Guessing client secrets is already hopeless (32 random characters); what repeated failures cost is CPU
 * and log noise, and a client id under attack should not keep its attacker fed with fast answers. So after
 * a few free failures, each further failure doubles the wait before the next attempt of the same client id,
 * and of the same source address, up to a minute. A success clears the client id's record. The address
 * allows more failures than the id, since several honest clients may share one address behind a NAT.
 * Records live in a bounded cache and are forgotten a few minutes after the last failure.
 */

/** Slows down repeated failed token requests per client id and per source address. */
public final class FailureThrottle {

    /** Failures of one client id answered without delay. */
    static final int FREE_PER_CLIENT = 5;
    /** Failures from one address answered without delay. */
    static final int FREE_PER_ADDRESS = 20;
    /** The longest wait imposed. */
    static final Duration MAX_WAIT = Duration.ofMinutes(1);

    private record Record(int failures, long blockedUntilMillis) {}

    private final Clock clock;
    private final Cache<String, Record> records = Caffeine.newBuilder()
            .maximumSize(100_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .build();

    public FailureThrottle(Clock clock) {
        this.clock = clock;
    }

    /** How long {@code clientId} from {@code address} must wait before trying again; zero when it may. */
    public Duration waitFor(String clientId, String address) {
        long now = clock.millis();
        long until = Math.max(blockedUntil("client:" + clientId), blockedUntil("address:" + address));
        return until > now ? Duration.ofMillis(until - now) : Duration.ZERO;
    }

    /** Records a failed attempt. */
    public void failed(String clientId, String address) {
        record("client:" + clientId, FREE_PER_CLIENT);
        record("address:" + address, FREE_PER_ADDRESS);
    }

    /** Clears {@code clientId}'s failures after a success. */
    public void succeeded(String clientId) {
        records.invalidate("client:" + clientId);
    }

    private long blockedUntil(String key) {
        Record record = records.getIfPresent(key);
        return record == null ? 0 : record.blockedUntilMillis();
    }

    private void record(String key, int free) {
        long now = clock.millis();
        records.asMap().compute(key, (k, previous) -> {
            int failures = previous == null ? 1 : previous.failures() + 1;
            if (failures <= free) {
                return new Record(failures, 0);
            }
            long wait = Math.min(MAX_WAIT.toMillis(), 1_000L << Math.min(failures - free - 1, 16));
            return new Record(failures, now + wait);
        });
    }
}
