package dev.chorus.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Renders result rows as a GitHub markdown table. Cells are padded to their column's width so the table
 * also reads well as plain text on a terminal.
 */
final class MarkdownTable {

    private static final List<String> HEADERS =
            List.of("scenario", "variant", "mode", "messages", "msgs/s", "p50 µs", "p99 µs", "max µs", "loss", "notes");
    private static final boolean[] NUMERIC = {false, false, false, true, true, true, true, true, true, false};

    private MarkdownTable() {}

    /** The table: a header row, an alignment row (numbers right-aligned) and one row per result. */
    static String render(List<ResultRow> rows) {
        List<List<String>> cells = new ArrayList<>();
        cells.add(HEADERS);
        for (ResultRow row : rows) {
            cells.add(List.of(
                    escape(row.scenario()),
                    escape(row.variant()),
                    escape(row.mode()),
                    String.format(Locale.ROOT, "%,d", row.messages()),
                    String.format(Locale.ROOT, "%,.0f", row.msgsPerSecond()),
                    micros(row.p50Micros()),
                    micros(row.p99Micros()),
                    micros(row.maxMicros()),
                    Long.toString(row.loss()),
                    escape(row.notes())));
        }
        int[] widths = new int[HEADERS.size()];
        for (List<String> line : cells) {
            for (int i = 0; i < widths.length; i++) {
                widths[i] = Math.max(widths[i], Math.max(3, line.get(i).length()));
            }
        }
        StringBuilder out = new StringBuilder();
        appendLine(out, cells.get(0), widths);
        out.append('|');
        for (int i = 0; i < widths.length; i++) {
            out.append(' ')
                    .append("-".repeat(widths[i] - (NUMERIC[i] ? 1 : 0)))
                    .append(NUMERIC[i] ? ":" : "")
                    .append(" |");
        }
        out.append('\n');
        for (List<String> line : cells.subList(1, cells.size())) {
            appendLine(out, line, widths);
        }
        return out.toString();
    }

    private static void appendLine(StringBuilder out, List<String> line, int[] widths) {
        out.append('|');
        for (int i = 0; i < widths.length; i++) {
            String cell = line.get(i);
            String padding = " ".repeat(widths[i] - cell.length());
            out.append(' ').append(NUMERIC[i] ? padding + cell : cell + padding).append(" |");
        }
        out.append('\n');
    }

    private static String micros(double micros) {
        return Double.isNaN(micros) ? "–" : String.format(Locale.ROOT, "%,.1f", micros);
    }

    private static String escape(String text) {
        return text.replace("|", "\\|").replace('\n', ' ');
    }
}
