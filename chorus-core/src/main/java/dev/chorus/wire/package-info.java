/**
 * The one wire format every transport carries: {@link dev.chorus.wire.Envelope}, encoded and decoded by
 * {@link dev.chorus.wire.EnvelopeCodec}. Decoding never throws: it returns a {@link
 * dev.chorus.wire.DecodeResult}, either the envelope or a typed {@link dev.chorus.wire.Rejection}.
 */
@NullMarked
package dev.chorus.wire;

import org.jspecify.annotations.NullMarked;
