/**
 * The backplane SPI: how replicas send each other messages. Entry points: {@link
 * dev.chorus.backplane.Backplane} (and {@link dev.chorus.backplane.Backplane#inProcess()} for one replica)
 * and the in-process transport's {@code LocalCluster}, which runs several replicas in one JVM for tests.
 * This package names no transport: the in-process one is found through {@link
 * dev.chorus.backplane.InProcessBackplaneFactory}.
 *
 * <p>Callers publish a {@link dev.chorus.backplane.Message}; the transport stamps it into an {@link
 * dev.chorus.wire.Envelope} with origin, epoch and sequence; subscribers receive envelopes, plus a {@link
 * dev.chorus.backplane.Missed} signal whenever messages may have been lost.
 */
@NullMarked
package dev.chorus.backplane;

import org.jspecify.annotations.NullMarked;
