package dev.chorus.server;

import dev.chorus.ConfigurationException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Starts one Chorus replica from the environment; see {@code docs/server.md}. SIGTERM (and SIGINT) drain it
 * gracefully and exit 0; a second signal during the drain is logged and ignored. With arguments it runs one of
 * the {@link Commands} instead ({@code health URL}, {@code verify URL}) and exits with its code.
 */
public final class Main {

    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    private Main() {}

    public static void main(String[] args) {
        if (args.length > 0) {
            System.exit(new Commands(System::getenv, System.out, System.err).run(args));
            return;
        }
        ServerConfig config;
        ChorusServer server;
        try {
            config = ServerConfig.fromEnvironment();
            server = ChorusServer.start(config);
        } catch (ConfigurationException e) {
            LOG.error("Cannot start: {}", e.getMessage());
            System.exit(2);
            return;
        } catch (RuntimeException e) {
            LOG.error("Cannot start", e);
            System.exit(1);
            return;
        }
        Duration delay = config.chorus().drainDelay();
        AtomicReference<Thread> drainer = new AtomicReference<>();
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), signal -> {
                Thread thread = Thread.ofPlatform().name("chorus-drain").unstarted(() -> {
                    server.drain(delay);
                    LOG.info("Drained; exiting");
                    System.exit(0);
                });
                if (drainer.compareAndSet(null, thread)) {
                    LOG.info("SIG{} received: draining (CHORUS_DRAIN_DELAY={} ms)", name, delay.toMillis());
                    thread.start();
                } else {
                    LOG.info("SIG{} received while draining: the drain continues", name);
                }
            });
        }
        // Any other way out (System.exit elsewhere, a fatal error) still closes what it can.
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "chorus-shutdown"));
    }
}
