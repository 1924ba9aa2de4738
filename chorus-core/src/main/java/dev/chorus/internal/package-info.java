/**
 * Building blocks shared by the transports ({@link dev.chorus.internal.AbstractBackplane} first among
 * them). Public only so that transport modules can use them: this package may change without notice and
 * is not part of the Chorus API.
 */
@NullMarked
package dev.chorus.internal;

import org.jspecify.annotations.NullMarked;
