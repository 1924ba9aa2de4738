package dev.chorus.local;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.InProcessBackplaneFactory;

/**
 * The in-process transport's answer to {@link Backplane#inProcess()}: a {@link LocalCluster} of one. Public
 * only because {@link java.util.ServiceLoader} instantiates it; call {@link Backplane#inProcess()}.
 */
public final class LocalBackplaneFactory implements InProcessBackplaneFactory {

    /** For {@link java.util.ServiceLoader}. */
    public LocalBackplaneFactory() {}

    @Override
    public Backplane create() {
        return LocalCluster.create("chorus").join(ReplicaId.random()).backplane();
    }
}
