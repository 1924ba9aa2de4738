package dev.chorus.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What {@code bin/chorus cluster up} leaves in its state directory, as the scenarios that start it read it. */
public final class LauncherState {

    private LauncherState() {}

    /** The HAProxy port {@code cluster up --port auto} chose; replica i listens on it plus i. */
    public static int basePort(Path state) throws IOException {
        return Files.readAllLines(state.resolve("cluster.env")).stream()
                .filter(line -> line.startsWith("BASE_PORT="))
                .map(line -> Integer.parseInt(line.substring("BASE_PORT=".length())))
                .findFirst()
                .orElseThrow(() -> new IOException("no BASE_PORT in " + state.resolve("cluster.env")));
    }
}
