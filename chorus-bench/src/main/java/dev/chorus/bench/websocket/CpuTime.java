package dev.chorus.bench.websocket;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time a process has used, from {@code /proc/<pid>/stat}: on two cores shared by server and clients, how
 * the cores were split explains a latency better than the latency alone.
 */
final class CpuTime {

    /** Clock ticks per second of {@code utime}/{@code stime}: {@code getconf CLK_TCK} on Linux x86-64. */
    private static final double TICKS_PER_SECOND = 100;

    private CpuTime() {}

    /** User plus system CPU seconds of {@code pid} so far, NaN when unreadable. */
    static double seconds(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The command name may hold spaces and parentheses; the fields after its last ')' do not.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / TICKS_PER_SECOND;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }
}
