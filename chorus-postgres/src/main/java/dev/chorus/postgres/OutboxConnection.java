package dev.chorus.postgres;

import dev.chorus.backplane.Message;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.jdbc.AutoSave;

/*
 * A caller's connection whose commit carries the outbox rows of the transactional publishes made on it.
 *
 * Why: the writers' transactions that Chorus serves are often one small statement, and on them a separate
 * INSERT round trip per publish costs far more than the row itself (measured with pgbench, 16 writers on 2
 * cores: the INSERT as its own statement 0.76-0.94x of the plain transaction; sent in the COMMIT's round trip
 * 0.95-1.05x).
 *
 * Invariants:
 *  - publish(tx, m) on a wrapped connection only remembers m; nothing reaches the database before commit.
 *  - commit() sends "INSERT INTO outbox ... VALUES (...), (...); COMMIT" as one statement list. pgjdbc sends
 *    the parts of a multi-statement query behind one Sync, so rows and commit share one round trip, and an
 *    error in either part fails commit(): the transaction then never committed and nothing is announced.
 *  - The driver's own commit() still runs afterwards: pgjdbc skips it when no transaction is open, and a
 *    pool's proxy in between uses it to forget that the connection has uncommitted work.
 *  - rollback(), close() and abort() forget what was remembered; rolling back to a savepoint forgets what
 *    was published after that savepoint. setAutoCommit(true) inside a transaction commits it (JDBC), so it
 *    flushes first.
 *  - Drivers other than pgjdbc, and pgjdbc with autosave (which wraps each statement in a savepoint, so a
 *    COMMIT cannot run inside one), get the INSERT as its own statement before the driver's commit.
 *  - A JDBC connection is used by one thread at a time, so this holds no locks.
 */

/** The invocation handler behind {@link PostgresBackplane#withOutbox(Connection)}. */
final class OutboxConnection implements InvocationHandler {

    /** What the connection writes to and whom it tells after a commit. */
    interface Target {
        /** {@code INSERT INTO <schema>.outbox (channel, topic, headers, payload) VALUES} without the rows. */
        String insertPrefix();

        String channel();

        /** Rows written by this connection just committed. */
        void committed();
    }

    private record Mark(Savepoint savepoint, int published) {}

    /**
     * Rows per execution: pgjdbc allows 65,535 parameters in one statement list, COMMIT included, and each row
     * takes four. A larger transaction sends its rows in several executions, the COMMIT with the last.
     */
    private static final int ROWS_PER_EXECUTION = 10_000;

    private final Connection delegate;
    private final Target target;
    private final List<Message> pending = new ArrayList<>();
    /** Savepoints in the order they were set, each with the number of messages published before it. */
    private final List<Mark> marks = new ArrayList<>();

    private @Nullable Boolean ridesCommit;

    private OutboxConnection(Connection delegate, Target target) {
        this.delegate = delegate;
        this.target = target;
    }

    static Connection wrap(Connection delegate, Target target) {
        if (of(delegate, target) != null) {
            return delegate;
        }
        return (Connection) Proxy.newProxyInstance(
                OutboxConnection.class.getClassLoader(),
                new Class<?>[] {Connection.class},
                new OutboxConnection(delegate, target));
    }

    /** The handler behind {@code connection} when it was wrapped for {@code target}, else null. */
    static @Nullable OutboxConnection of(Connection connection, Target target) {
        if (Proxy.isProxyClass(connection.getClass())
                && Proxy.getInvocationHandler(connection) instanceof OutboxConnection handler
                && handler.target == target) {
            return handler;
        }
        return null;
    }

    /** Remembers {@code message} for the commit of the current transaction. */
    void add(Message message) {
        pending.add(message);
    }

    @Override
    public @Nullable Object invoke(Object proxy, Method method, Object @Nullable [] args) throws Throwable {
        int arity = args == null ? 0 : args.length;
        switch (method.getName()) {
            case "commit" -> {
                if (arity == 0) {
                    commit();
                    return null;
                }
            }
            case "rollback" -> {
                if (arity == 0) {
                    forget();
                } else if (args[0] instanceof Savepoint savepoint) {
                    rollbackTo(savepoint);
                }
            }
            case "setSavepoint" -> {
                Savepoint savepoint = (Savepoint) call(method, args);
                marks.add(new Mark(savepoint, pending.size()));
                return savepoint;
            }
            case "releaseSavepoint" -> {
                // Releasing a savepoint releases every one set after it too; what was published stays.
                int index = indexOf((Savepoint) args[0]);
                if (index >= 0) {
                    marks.subList(index, marks.size()).clear();
                }
            }
            case "setAutoCommit" -> {
                if (Boolean.TRUE.equals(args[0]) && !pending.isEmpty() && !delegate.getAutoCommit()) {
                    commit();
                }
            }
            case "close", "abort" -> forget();
            case "unwrap", "isWrapperFor" -> {
                // The raw connection would commit without the rows: Connection itself is this proxy.
                if (args[0] == Connection.class) {
                    return method.getName().equals("unwrap") ? proxy : Boolean.TRUE;
                }
            }
            case "equals" -> {
                return proxy == args[0];
            }
            case "hashCode" -> {
                return System.identityHashCode(proxy);
            }
            case "toString" -> {
                return "Chorus outbox connection on channel '" + target.channel() + "' over " + delegate;
            }
            default -> {}
        }
        return call(method, args);
    }

    private @Nullable Object call(Method method, Object @Nullable [] args) throws Throwable {
        try {
            return method.invoke(delegate, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private void commit() throws SQLException {
        if (pending.isEmpty()) {
            delegate.commit();
            return;
        }
        List<Message> messages = new ArrayList<>(pending);
        forget();
        try {
            boolean rides = ridesCommit();
            for (int first = 0; first < messages.size(); first += ROWS_PER_EXECUTION) {
                List<Message> rows = messages.subList(first, Math.min(messages.size(), first + ROWS_PER_EXECUTION));
                boolean last = first + rows.size() == messages.size();
                insert(delegate, target, rows, rides && last ? "; COMMIT" : "");
            }
            delegate.commit();
        } catch (SQLException | RuntimeException e) {
            // The transaction must not commit without its rows: a driver that recovers from the failed INSERT
            // (pgjdbc's autosave rolls back to its own savepoint) would otherwise commit the data alone on a
            // second commit() call.
            try {
                delegate.rollback();
            } catch (SQLException rollbackFailed) {
                e.addSuppressed(rollbackFailed);
            }
            throw e;
        }
        target.committed();
    }

    private boolean ridesCommit() throws SQLException {
        Boolean rides = ridesCommit;
        if (rides == null) {
            rides = delegate.isWrapperFor(PGConnection.class)
                    && delegate.unwrap(PGConnection.class).getAutosave() == AutoSave.NEVER;
            ridesCommit = rides;
        }
        return rides;
    }

    /**
     * Writes {@code rows} to the outbox on {@code connection} in one execution, in the order given, followed by
     * {@code suffix} (such as {@code "; COMMIT"}) in the same statement list.
     */
    static void insert(Connection connection, Target target, List<Message> rows, String suffix) throws SQLException {
        String sql = target.insertPrefix() + " (?, ?, ?, ?)" + ", (?, ?, ?, ?)".repeat(rows.size() - 1) + suffix;
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            int index = 1;
            for (Message message : rows) {
                statement.setString(index++, target.channel());
                statement.setString(index++, message.topic());
                statement.setArray(index++, connection.createArrayOf("text", headerPairs(message)));
                statement.setBytes(index++, message.payload());
            }
            statement.execute();
        }
    }

    private void rollbackTo(Savepoint savepoint) {
        int index = indexOf(savepoint);
        if (index < 0) {
            return; // set on the connection underneath or by SQL: not seen, see withOutbox's Javadoc
        }
        Mark mark = marks.get(index);
        pending.subList(mark.published(), pending.size()).clear();
        // Savepoints set after this one are gone with the rollback; this one stays usable.
        marks.subList(index + 1, marks.size()).clear();
    }

    private int indexOf(Savepoint savepoint) {
        for (int i = 0; i < marks.size(); i++) {
            if (marks.get(i).savepoint() == savepoint) {
                return i;
            }
        }
        return -1;
    }

    /** A message's headers as the outbox stores them: name, value, name, value, ... */
    private static String[] headerPairs(Message message) {
        String[] pairs = new String[message.headers().size() * 2];
        int i = 0;
        for (Map.Entry<String, String> header : message.headers().entrySet()) {
            pairs[i++] = header.getKey();
            pairs[i++] = header.getValue();
        }
        return pairs;
    }

    private void forget() {
        pending.clear();
        marks.clear();
    }
}
