/** Where the server keeps its JSON resources: in memory for one replica, or in PostgreSQL for a cluster. */
@NullMarked
package dev.chorus.server.store;

import org.jspecify.annotations.NullMarked;
