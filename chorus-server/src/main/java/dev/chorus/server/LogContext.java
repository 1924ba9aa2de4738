package dev.chorus.server;

import ch.qos.logback.classic.LoggerContext;
import dev.chorus.ReplicaId;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Puts the replica's id and name into the logging context, so every line of every thread names the replica
 * it came from ({@code %property{chorus.replica}} in {@code logback.xml}, a context property in JSON logs).
 */
final class LogContext {

    static final String REPLICA = "chorus.replica";

    private LogContext() {}

    static void replica(ReplicaId replica) {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        if (factory instanceof LoggerContext context) {
            context.putProperty(REPLICA, replica.toString());
        }
    }
}
