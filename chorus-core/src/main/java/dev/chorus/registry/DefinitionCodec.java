package dev.chorus.registry;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * Turns a definition into the bytes the store keeps and back; every replica must use the same codec.
 *
 * @param <D> the definition type
 */
public interface DefinitionCodec<D> {

    /** The definition's bytes. */
    byte[] encode(D definition);

    /** The definition {@link #encode} produced {@code bytes} from. */
    D decode(byte[] bytes);

    /** Definitions that are text, stored as UTF-8 (a JSON document, say). */
    static DefinitionCodec<String> utf8() {
        return of(s -> s.getBytes(StandardCharsets.UTF_8), b -> new String(b, StandardCharsets.UTF_8));
    }

    /** A codec from two functions that must be each other's inverse. */
    static <D> DefinitionCodec<D> of(Function<? super D, byte[]> encode, Function<byte[], ? extends D> decode) {
        return new DefinitionCodec<>() {
            @Override
            public byte[] encode(D definition) {
                return encode.apply(definition);
            }

            @Override
            public D decode(byte[] bytes) {
                return decode.apply(bytes);
            }
        };
    }
}
