package dev.chorus.deploy;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository is, from the module's own directory (Maven runs tests there). */
final class Repo {

    private Repo() {}

    /** The repository root: the directory above {@code deploy/} that holds the Maven wrapper. */
    static Path root() {
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("mvnw")) && Files.isDirectory(p.resolve("deploy"))) {
                return p;
            }
        }
        throw new IllegalStateException("no repository root (a directory with mvnw and deploy/) above " + here);
    }

    /** {@code relative} under the repository root. */
    static Path path(String relative) {
        return root().resolve(relative);
    }
}
