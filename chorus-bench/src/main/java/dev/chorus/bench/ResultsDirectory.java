package dev.chorus.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Where result files go: {@code chorus-bench/results/} wherever the bench is started from inside the
 * repository, so runs from the module, from the repository root and from the shaded jar all land in one
 * place.
 */
final class ResultsDirectory {

    /** System property that names the directory outright. */
    static final String PROPERTY = "chorus.bench.results";

    private static final String MODULE = "chorus-bench";

    private ResultsDirectory() {}

    /**
     * {@code override} if given; else {@code results/} when {@code workingDirectory} is the module; else
     * {@code chorus-bench/results/} when that exists or {@code workingDirectory} is the repository root;
     * else {@code chorus-bench-results/} under {@code workingDirectory}.
     */
    static Path resolve(Path workingDirectory, @Nullable String override) {
        if (override != null && !override.isBlank()) {
            return Path.of(override.strip());
        }
        Path here = workingDirectory.toAbsolutePath().normalize();
        Path name = here.getFileName();
        if (name != null && name.toString().equals(MODULE)) {
            return here.resolve("results");
        }
        Path moduleResults = here.resolve(MODULE).resolve("results");
        if (Files.isDirectory(moduleResults) || isRepositoryRoot(here)) {
            return moduleResults;
        }
        return here.resolve("chorus-bench-results");
    }

    /** The directory for this JVM: the system property, else from the current directory. */
    static Path resolve() {
        return resolve(Path.of(""), System.getProperty(PROPERTY));
    }

    private static boolean isRepositoryRoot(Path directory) {
        return Files.isRegularFile(directory.resolve("pom.xml"))
                && Files.isRegularFile(directory.resolve(MODULE).resolve("pom.xml"));
    }
}
