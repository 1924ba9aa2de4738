package dev.chorus.server;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Keeps the classes that use it from running at the same time in the two failsafe JVMs of this module: a file lock
 * under {@code target/}, held from before the class's first test to after its last.
 *
 * <p>IT classes run two at a time. That is safe for every class, but a class that loads the machine (BoundedMemoryIT
 * pushes 2 GB through a replica) beside one that starts clusters with production timeouts (ClusterLauncherIT: a
 * JGroups join that times out under load waits for a merge) would make the second slower or flaky, so they take
 * turns.
 */
final class HeavyAcrossForks implements BeforeAllCallback, AfterAllCallback {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(HeavyAcrossForks.class);

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        Path file = Path.of("target", "heavy-it.lock");
        Files.createDirectories(file.getParent());
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.lock(); // blocks while the other JVM runs a heavy class
        context.getStore(NAMESPACE).put("lock", lock);
        context.getStore(NAMESPACE).put("channel", channel);
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        FileLock lock = context.getStore(NAMESPACE).remove("lock", FileLock.class);
        FileChannel channel = context.getStore(NAMESPACE).remove("channel", FileChannel.class);
        if (lock != null) {
            lock.release();
        }
        if (channel != null) {
            channel.close();
        }
    }
}
