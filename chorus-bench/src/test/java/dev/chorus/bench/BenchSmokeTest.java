package dev.chorus.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchSmokeTest {

    private static final List<String> VARIANTS = List.of("chorus", "raw baseline (LinkedTransferQueue fan-out)");
    private static final List<String> MODES = List.of("1 in flight", "max rate", "fixed rate 50k/s");

    @Test
    void run_quickInprocess_printsAndWritesARowPerVariantAndModeWithoutLoss(@TempDir Path results) throws IOException {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int exit;
        System.setProperty(ResultsDirectory.PROPERTY, results.toString());
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            exit = Bench.run(new String[] {"--quick", "inprocess"}, out);
        } finally {
            System.clearProperty(ResultsDirectory.PROPERTY);
        }
        String output = printed.toString(StandardCharsets.UTF_8);

        assertThat(exit).as(output).isEqualTo(Bench.OK);
        assertThat(output).contains("--quick on").containsPattern("\\| scenario +\\| variant +\\| mode +\\|");
        List<List<String>> rows = tableRows(output);
        assertThat(rows).hasSize(VARIANTS.size() * MODES.size());
        for (String mode : MODES) {
            for (String variant : VARIANTS) {
                assertThat(rows)
                        .as("%s / %s", variant, mode)
                        .anySatisfy(row -> assertThat(row.subList(1, 3)).containsExactly(variant, mode));
            }
        }
        assertThat(rows)
                .allSatisfy(row -> assertThat(row.get(8)).as("loss in %s", row).isEqualTo("0"));

        String table = output.lines().filter(line -> line.startsWith("|")).collect(Collectors.joining("\n"));
        try (Stream<Path> files = Files.list(results)) {
            assertThat(files.toList()).singleElement().satisfies(file -> {
                assertThat(file.getFileName().toString()).matches("inprocess-\\d{8}-\\d{6}\\.md");
                assertThat(Files.readString(file)).contains(table);
            });
        }
    }

    /** The cells of every table row of the inprocess scenario. */
    private static List<List<String>> tableRows(String output) {
        return output.lines()
                .filter(line -> line.startsWith("| inprocess "))
                .map(line -> Arrays.stream(line.substring(1, line.length() - 1).split("(?<!\\\\)\\|"))
                        .map(String::strip)
                        .toList())
                .toList();
    }
}
