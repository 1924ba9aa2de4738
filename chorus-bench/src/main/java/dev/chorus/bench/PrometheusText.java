package dev.chorus.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The samples of one Prometheus text exposition, as the reference server's {@code /metrics} returns it; only
 * what a benchmark needs to subtract two scrapes.
 */
final class PrometheusText {

    // Label values are quoted and may hold braces themselves, as routes such as /api/resources/{type}/{id} do.
    private static final Pattern SAMPLE = Pattern.compile(
            "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[^\"}]|\"(?:[^\"\\\\]|\\\\.)*\")*})?\\s+(\\S+)(\\s+\\d+)?$");

    /** Sample name and labels exactly as exposed, for example {@code x_total{result="hit"}}, to its value. */
    private final Map<String, Double> samples;

    private PrometheusText(Map<String, Double> samples) {
        this.samples = samples;
    }

    /** Parses the samples; comments and lines it does not understand are skipped. */
    static PrometheusText parse(String text) {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line.strip());
            if (m.matches()) {
                try {
                    samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
                } catch (NumberFormatException ignored) {
                    // NaN spelled another way, or a value this parser does not know: not one we read.
                }
            }
        }
        return new PrometheusText(samples);
    }

    /** The sum of every sample named {@code name} whose labels contain each of {@code labels} ({@code k="v"}). */
    double sum(String name, String... labels) {
        double total = 0;
        for (Map.Entry<String, Double> sample : samples.entrySet()) {
            String key = sample.getKey();
            if (!key.equals(name) && !key.startsWith(name + "{")) {
                continue;
            }
            boolean all = true;
            for (String label : labels) {
                all &= key.contains(label);
            }
            if (all) {
                total += sample.getValue();
            }
        }
        return total;
    }
}
