package dev.chorus.bench.websocket;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Counts TCP connections from the kernel's tables: a check of leaked sockets that does not depend on what
 * the server itself believes is open.
 */
final class Tcp {

    private static final String ESTABLISHED = "01";
    private static final List<Path> TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));

    /** One line of a table: addresses as the kernel prints them ({@code 0100007F:1F90}). */
    private record Connection(String local, String remote, String state, String inode) {}

    private Tcp() {}

    /**
     * Established connections whose local port is {@code port}, leaving out those whose other end belongs to
     * process {@code exceptPeersOf} (the bench's own HTTP client keeps connections to the server alive); -1
     * when the tables cannot be read.
     */
    static long established(int port, long exceptPeersOf) {
        List<Connection> connections;
        Set<String> ownInodes;
        try {
            connections = connections();
            ownInodes = socketInodes(exceptPeersOf);
        } catch (IOException e) {
            return -1;
        }
        Set<String> ownEnds = new HashSet<>();
        for (Connection c : connections) {
            if (ownInodes.contains(c.inode())) {
                ownEnds.add(c.local());
            }
        }
        String local = String.format(Locale.ROOT, ":%04X", port);
        return connections.stream()
                .filter(c ->
                        c.local().endsWith(local) && c.state().equals(ESTABLISHED) && !ownEnds.contains(c.remote()))
                .count();
    }

    private static List<Connection> connections() throws IOException {
        List<Connection> connections = new ArrayList<>();
        for (Path table : TABLES) {
            if (!Files.isReadable(table)) {
                continue;
            }
            for (String line : Files.readAllLines(table)) {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
                String[] fields = line.strip().split("\\s+");
                if (fields.length > 9 && fields[1].contains(":")) {
                    connections.add(new Connection(ipv4(fields[1]), ipv4(fields[2]), fields[3], fields[9]));
                }
            }
        }
        return connections;
    }

    /**
     * An IPv4-mapped IPv6 end ({@code ::ffff:127.0.0.1}, as a dual-stack JDK socket shows in {@code tcp6})
     * written as {@code tcp} writes IPv4, so the two ends of one connection compare equal.
     */
    private static String ipv4(String end) {
        int colon = end.indexOf(':');
        String address = end.substring(0, colon);
        if (address.length() == 32 && address.startsWith("0000000000000000FFFF0000")) {
            return address.substring(24) + end.substring(colon);
        }
        return end;
    }

    /** The inodes of the sockets {@code pid} has open, from the {@code socket:[N]} links of its fds. */
    private static Set<String> socketInodes(long pid) throws IOException {
        Set<String> inodes = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring("socket:[".length(), target.length() - 1));
                    }
                } catch (IOException closedMeanwhile) {
                    // an fd closed while the directory was read is no connection of ours
                }
            }
        }
        return inodes;
    }
}
