package dev.chorus.cache;

import dev.chorus.ChorusException;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Function;

/**
 * Turns a cache key into the text that travels in an invalidation and back, identically on every replica.
 *
 * <p>{@code decode(encode(k))} must equal {@code k}: a replica that decodes a different key invalidates the
 * wrong entry and keeps the stale one.
 *
 * @param <K> the key type
 */
public interface KeyCodec<K> {

    /** The key as text; at most a few hundred bytes, so that an invalidation stays small. */
    String encode(K key);

    /** The key {@link #encode} produced {@code text} from. */
    K decode(String text);

    /** Keys that are strings already. */
    static KeyCodec<String> strings() {
        return of(Function.identity(), Function.identity());
    }

    /** Long keys (ids), as decimal text. */
    static KeyCodec<Long> longs() {
        return of(String::valueOf, text -> {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new ChorusException("Invalidation key '" + text + "' is not a long: the replica that sent it"
                        + " uses another key codec for this cache name");
            }
        });
    }

    /** UUID keys, in their canonical text form. */
    static KeyCodec<UUID> uuids() {
        return of(UUID::toString, text -> {
            try {
                return UUID.fromString(text);
            } catch (IllegalArgumentException e) {
                throw new ChorusException("Invalidation key '" + text + "' is not a UUID: the replica that sent it"
                        + " uses another key codec for this cache name");
            }
        });
    }

    /** A codec from two functions that must be each other's inverse. */
    static <K> KeyCodec<K> of(Function<? super K, String> encode, Function<String, ? extends K> decode) {
        Objects.requireNonNull(encode, "encode");
        Objects.requireNonNull(decode, "decode");
        return new KeyCodec<>() {
            @Override
            public String encode(K key) {
                String text = encode.apply(key);
                if (text == null) {
                    throw new dev.chorus.ChorusException(
                            "The key codec encoded key '" + key + "' as null; it must" + " return the key's text");
                }
                return text;
            }

            @Override
            public K decode(String text) {
                K key = decode.apply(text);
                if (key == null) {
                    throw new dev.chorus.ChorusException(
                            "The key codec decoded '" + text + "' as null; it must" + " return the key");
                }
                return key;
            }
        };
    }
}
