/**
 * A near cache per replica whose invalidations cannot be silently missed: {@link
 * dev.chorus.cache.ReplicatedCache}.
 */
@NullMarked
package dev.chorus.cache;

import org.jspecify.annotations.NullMarked;
