package dev.chorus.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lines a child process prints, collected as they come and echoed to the test log tagged with its name.
 *
 * <p>Stop a child whose last lines matter with {@code process.toHandle().destroy()}, not {@code
 * Process.destroy()}: the latter also closes this end of the pipe, and with it whatever the child prints
 * while it shuts down.
 */
public final class ProcessOutput {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessOutput.class);

    private ProcessOutput() {}

    /** Starts following {@code process}'s standard output; the returned list grows until the process ends. */
    public static List<String> follow(Process process, String name) {
        List<String> output = new CopyOnWriteArrayList<>();
        // A platform thread: the read blocks for the life of the process.
        Thread.ofPlatform().daemon().name("output-" + name).start(() -> {
            try (BufferedReader lines =
                    new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    output.add(line);
                    LOG.info("[{}] {}", name, line);
                }
            } catch (IOException e) {
                LOG.debug("Output of {} ended: {}", name, e.toString());
            }
        });
        return output;
    }
}
