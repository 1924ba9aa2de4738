/**
 * Chorus core: the identity of a replica ({@link dev.chorus.ReplicaId}), configuration ({@link
 * dev.chorus.ChorusConfig}), retry timing ({@link dev.chorus.Backoff}) and the one unchecked exception
 * root ({@link dev.chorus.ChorusException}).
 *
 * <p>Transports and features live in sub-packages: {@code wire} (the envelope format), {@code backplane},
 * {@code membership}, {@code leases} and {@code health}.
 */
@NullMarked
package dev.chorus;

import org.jspecify.annotations.NullMarked;
