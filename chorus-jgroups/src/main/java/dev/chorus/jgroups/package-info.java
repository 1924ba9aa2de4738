/**
 * The JGroups transport: a broker-less peer mesh. Entry point: {@link dev.chorus.jgroups.JGroupsBackplane},
 * whose {@link dev.chorus.jgroups.JGroupsBackplane#membership()} gives membership from JGroups views. Leases
 * need a shared store: use PostgreSQL or Redis leases alongside (see docs/jgroups.md).
 */
@NullMarked
package dev.chorus.jgroups;

import org.jspecify.annotations.NullMarked;
