package dev.chorus.server;

import dev.chorus.ConfigurationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts one Chorus replica from the environment; see {@code docs/server.md}. */
public final class Main {

    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    private Main() {}

    public static void main(String[] args) {
        ChorusServer server;
        try {
            server = ChorusServer.start(ServerConfig.fromEnvironment());
        } catch (ConfigurationException e) {
            LOG.error("Cannot start: {}", e.getMessage());
            System.exit(2);
            return;
        } catch (RuntimeException e) {
            LOG.error("Cannot start", e);
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "chorus-shutdown"));
    }
}
