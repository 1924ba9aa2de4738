package dev.chorus.postgres;

import dev.chorus.Backoff;
import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.backplane.TransactionalBackplane;
import dev.chorus.internal.AbstractBackplane;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.WireSecurity;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.EnvelopeTooLargeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL backplane: LISTEN/NOTIFY on one channel, with publishing tied to the caller's transaction.
 *
 * <pre>{@code
 * PostgresDatabase db = PostgresDatabase.builder(System.getenv("DATABASE_URL")).build();
 * PostgresBackplane backplane = PostgresBackplane.builder(db).replica(id).channel("orders").build();
 * backplane.publish(Message.of("cache.users", "42"));           // batched, outside any transaction
 * try (Connection tx = dataSource.getConnection()) {
 *     tx.setAutoCommit(false);
 *     // ... the change ...
 *     backplane.publish(tx, Message.of("cache.users", "42"));   // announced if and only if tx commits
 *     tx.commit();
 * }
 * }</pre>
 *
 * <p>Listening uses one push-style connection (vertx-pg-client); publishing uses one pgjdbc connection that
 * batches envelopes, many per notification and many notifications per transaction. A canary sent to
 * itself every few seconds proves the whole path works; health turns DEGRADED with the reason when the
 * listener is lost (detected within 5 s, frozen links included), the canary does not come back, or the
 * server's notification queue fills past a threshold.
 */
public final class PostgresBackplane extends AbstractBackplane implements TransactionalBackplane {

    /** Default channel, also the cluster name in envelopes. */
    public static final String DEFAULT_CHANNEL = ChorusConfig.DEFAULT_CHANNEL;
    /** Default canary period. */
    public static final Duration DEFAULT_CANARY_INTERVAL = Duration.ofSeconds(2);
    /** Default time a canary may take before health turns DEGRADED. */
    public static final Duration DEFAULT_CANARY_TIMEOUT = Duration.ofSeconds(5);
    /** Default listener ping period. */
    public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(1);
    /** Default time a ping may take before the listening connection is declared lost. */
    public static final Duration DEFAULT_PING_TIMEOUT = Duration.ofSeconds(3);
    /** Default safety-net period of the outbox poll (commits on this replica also wake it at once). */
    public static final Duration DEFAULT_OUTBOX_POLL_INTERVAL = Duration.ofSeconds(1);
    /** Default notification queue usage above which health turns DEGRADED. */
    public static final double DEFAULT_QUEUE_USAGE_THRESHOLD = 0.5;
    /** Default time spilled envelopes are kept for receivers to load. */
    public static final Duration DEFAULT_SPILL_RETENTION = Duration.ofMinutes(10);
    /** Default number of envelopes that may wait for the publisher. */
    public static final int DEFAULT_PUBLISH_QUEUE_CAPACITY = 100_000;
    /** Default number of spill references that may wait for the fetcher; more are dropped and counted. */
    public static final int DEFAULT_SPILL_FETCH_QUEUE_CAPACITY = 1_024;
    /** Default number of spill references loaded per second at most. */
    public static final int DEFAULT_SPILL_FETCH_RATE = 1_000;
    /** Default time one spill fetch may take before its references are given up (subscribers see the gap). */
    public static final Duration DEFAULT_SPILL_FETCH_TIMEOUT = Duration.ofSeconds(5);

    private static final Logger LOG = LoggerFactory.getLogger(PostgresBackplane.class);
    private static final Pattern CHANNEL = Pattern.compile("[a-z][a-z0-9_]{0,47}");
    private static final String CANARY_TOPIC = "_chorus.canary";
    /** CONTROL topic announcing a message lost at its origin; payload: sequence (8 bytes), then topic (UTF-8). */
    static final String LOST_TOPIC = "_chorus.lost";

    private final PostgresDatabase database;
    private final String channel;
    private final TransactionalPublish transactionalPublish;
    private final Duration canaryTimeout;
    private final double queueUsageThreshold;
    private final Duration spillRetention;
    private final Publisher publisher;
    private final OutboxConnection.Target outbox;
    private final NotificationListener listener;
    private final SpillReferences spillReferences;
    private final NotificationReceiver receiver;
    private final ScheduledExecutorService scheduler;
    private final Object canaryLock = new Object();
    private long canaryOutstandingSince = -1;
    private long lastCanaryRoundTripNanos = -1;
    private volatile boolean listening;
    private volatile boolean canaryFailed;
    private volatile double queueUsage;

    private PostgresBackplane(Builder b) {
        super(
                "postgres",
                b.replica,
                EnvelopeCodec.builder(b.channel)
                        .secret(b.secret)
                        .maxBytes(b.maxEnvelopeBytes)
                        .build(),
                b.clock,
                AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY,
                b.receiveQueueBytes,
                b.replayWindow);
        this.database = b.database;
        this.channel = b.channel;
        this.transactionalPublish = b.transactionalPublish;
        this.canaryTimeout = b.canaryTimeout;
        this.queueUsageThreshold = b.queueUsageThreshold;
        this.spillRetention = b.spillRetention;
        String schema = database.schema();
        String outboxInsert = "INSERT INTO " + schema + ".outbox (channel, topic, headers, payload) VALUES";
        this.spillReferences = new SpillReferences(channel, b.secret);
        this.receiver = new NotificationReceiver(
                database,
                channel,
                b.replica.uuid(),
                codec(),
                spillReferences,
                new NotificationReceiver.Sink() {
                    @Override
                    public void received(byte[] envelope) {
                        PostgresBackplane.this.received(envelope);
                    }

                    @Override
                    public void rejected(dev.chorus.wire.DecodeResult.Rejected rejected) {
                        PostgresBackplane.this.rejected(rejected);
                    }
                },
                b.spillFetchQueueCapacity,
                b.spillFetchRate,
                b.spillFetchTimeout);
        this.publisher = new Publisher(
                database,
                channel,
                new Publisher.Stamping() {
                    @Override
                    public <T> T underPublishLock(java.util.function.Supplier<T> action) {
                        return PostgresBackplane.this.underPublishLock(action);
                    }

                    @Override
                    public byte[] stamp(Message message) {
                        return PostgresBackplane.this.stamp(message).bytes();
                    }

                    @Override
                    public byte @Nullable [] lost(Message message, RuntimeException cause) {
                        return announceLost(message, cause);
                    }
                },
                spillReferences,
                b.replica.uuid(),
                b.relayOutbox,
                b.outboxPollInterval,
                b.publishQueueCapacity,
                b.sendQueueBytes,
                b.backoff);
        this.outbox = new OutboxConnection.Target() {
            @Override
            public String insertPrefix() {
                return outboxInsert;
            }

            @Override
            public String channel() {
                return channel;
            }

            @Override
            public void committed() {
                publisher.kickOutbox();
            }
        };
        this.listener = new NotificationListener(
                database,
                channel,
                b.backoff,
                b.pingInterval,
                b.pingTimeout,
                receiver::onPayload,
                new NotificationListener.Events() {
                    @Override
                    public void listening(String how) {
                        onListening(how);
                    }

                    @Override
                    public void lost(String reason, @Nullable Throwable cause) {
                        onListenerLost(reason, cause);
                    }
                });
        this.scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("chorus-postgres-timer").daemon().factory());
        LOG.info(
                "PostgreSQL backplane starting for replica {} on channel '{}' at {}, transactional publish {}",
                b.replica,
                channel,
                database.describe(),
                transactionalPublish);
        try {
            // Create the tables now when we can, so a transactional publish right after build() finds them;
            // if the database is down, the publisher creates them when it first connects.
            database.ensureSchema();
        } catch (SQLException | RuntimeException e) {
            LOG.warn(
                    "Could not create the Chorus tables in {} yet ({}); will retry when the database answers",
                    database.describe(),
                    e.getMessage());
        }
        publisher.start();
        receiver.start();
        listener.start();
        long canaryMillis = b.canaryInterval.toMillis();
        scheduler.scheduleWithFixedDelay(this::canaryTick, canaryMillis, canaryMillis, TimeUnit.MILLISECONDS);
        scheduler.scheduleWithFixedDelay(this::watchQueueUsage, 1, 5, TimeUnit.SECONDS);
        scheduler.scheduleWithFixedDelay(this::deleteOldSpills, 30, 60, TimeUnit.SECONDS);
    }

    /** A builder for a backplane on {@code database}. */
    public static Builder builder(PostgresDatabase database) {
        return new Builder(database);
    }

    /** A backplane configured from {@code config} (channel, secret, size limit) for {@code replica}. */
    public static PostgresBackplane from(ChorusConfig config, PostgresDatabase database, ReplicaId replica) {
        return builder(database)
                .replica(replica)
                .channel(config.channel())
                .secret(config.clusterSecret().orElse(null))
                .allowUnsigned(config.allowUnsigned())
                .replayWindow(config.replayWindow())
                .maxEnvelopeBytes(config.maxEnvelopeBytes())
                .sendQueueBytes(config.sendQueueBytes())
                .receiveQueueBytes(config.receiveQueueBytes())
                .build();
    }

    /** The channel this backplane listens and notifies on. */
    public String channel() {
        return channel;
    }

    // ---- sending ----

    @Override
    protected CompletableFuture<Void> transmit(Envelope envelope, byte[] bytes) {
        return publisher.offer(bytes);
    }

    /**
     * Publishes {@code message} if and only if {@code transaction} commits, even if this replica dies right
     * after the commit. How depends on {@link TransactionalPublish}: by default an outbox row written on
     * {@code transaction} and relayed after commit.
     *
     * @throws ChorusException when {@code transaction} is in auto-commit mode (there is no transaction to tie
     *     the message to), or the statement fails
     * @throws EnvelopeTooLargeException when the message exceeds the size limit
     */
    @Override
    public void publish(Connection transaction, Message message) {
        Objects.requireNonNull(transaction, "transaction");
        Objects.requireNonNull(message, "message");
        if (isClosed()) {
            throw new dev.chorus.backplane.BackplaneClosedException(backend(), channel);
        }
        try {
            if (transaction.getAutoCommit()) {
                throw new ChorusException("publish(Connection, Message) needs a connection inside a transaction,"
                        + " but this one is in auto-commit mode, so the message could not wait for a commit."
                        + " Call connection.setAutoCommit(false) before the change and commit() after it, or use"
                        + " publish(Message) for a message that belongs to no transaction.");
            }
            checkSize(message);
            switch (transactionalPublish) {
                case OUTBOX -> {
                    OutboxConnection onCommit = OutboxConnection.of(transaction, outbox);
                    if (onCommit != null) {
                        onCommit.add(message);
                    } else {
                        writeOutbox(transaction, message);
                    }
                }
                case NOTIFY_IN_TRANSACTION -> notifyInTransaction(transaction, message);
            }
        } catch (SQLException e) {
            throw new PublishFailedException(
                    "Could not add the message on topic '" + message.topic() + "' to the caller's transaction: "
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * Wraps {@code connection} so that {@link #publish(Connection, Message)} on it costs no round trip of its
     * own: the outbox rows of the transaction are sent together with its {@code COMMIT}, in one round trip,
     * when {@code commit()} is called on the returned connection. Everything else goes to {@code connection}
     * unchanged. Rolling back (to a savepoint, too) forgets what was published in what it undoes, and closing
     * the connection without a commit publishes nothing.
     *
     * <p>Use it where transactions are short: with 16 writers each updating one row (pgbench, 2 cores), an
     * outbox INSERT as its own statement cost 6–24 % of the writers' throughput, and the same row sent with the
     * COMMIT 0–5 % (docs/postgres.md). A failure of the outbox INSERT surfaces from {@code commit()}, not from {@code
     * publish}, and the transaction then does not commit. With {@link TransactionalPublish#NOTIFY_IN_TRANSACTION}
     * the wrapper changes nothing. Needs pgjdbc with {@code autosave} off for the single round trip; other
     * drivers, and autosave, get the INSERT as a statement of its own right before the commit. If the INSERT
     * or the COMMIT fails, the transaction is rolled back and {@code commit()} throws.
     *
     * <p>The wrapper sees the JDBC calls made on it, not SQL: a {@code COMMIT} or {@code ROLLBACK} sent as a
     * statement, or a savepoint set on the connection underneath, is invisible to it, and so would leave the
     * messages waiting for the next {@code commit()}. {@code unwrap(Connection.class)} returns the wrapper
     * itself for that reason.
     */
    public Connection withOutbox(Connection connection) {
        return OutboxConnection.wrap(Objects.requireNonNull(connection, "connection"), outbox);
    }

    /**
     * Wraps {@code dataSource} so that every connection it hands out is {@linkplain #withOutbox(Connection)
     * wrapped}: the form to give a framework that takes a {@code DataSource} (a Spring transaction manager,
     * for one), so that the commits it makes carry the outbox rows.
     */
    public DataSource withOutbox(DataSource dataSource) {
        return new OutboxDataSource(Objects.requireNonNull(dataSource, "dataSource"), this::withOutbox);
    }

    private void checkSize(Message message) {
        Envelope probe = Envelope.of(
                Envelope.Kind.MESSAGE,
                channel,
                replica(),
                0,
                0,
                Instant.EPOCH,
                message.topic(),
                message.headers(),
                message.payload());
        int size = codec().encodedSize(probe);
        if (size > codec().maxBytes()) {
            throw new EnvelopeTooLargeException(message.topic(), size, codec().maxBytes());
        }
    }

    private void writeOutbox(Connection transaction, Message message) throws SQLException {
        OutboxConnection.insert(transaction, outbox, List.of(message), "");
        // The row becomes visible when the caller commits, which we cannot observe: poll often for a moment.
        publisher.kickOutbox();
    }

    private void notifyInTransaction(Connection transaction, Message message) throws SQLException {
        byte[] bytes = encodeUnsequenced(message);
        String payload;
        if (NotificationPayloads.needsSpill(bytes)) {
            try (PreparedStatement statement = transaction.prepareStatement(
                    "INSERT INTO " + database.schema() + ".spill (channel, envelope) VALUES (?, ?) RETURNING id")) {
                statement.setString(1, channel);
                statement.setBytes(2, bytes);
                try (ResultSet rs = statement.executeQuery()) {
                    rs.next();
                    // Unsequenced: no origin in the reference, so receivers park nothing behind it.
                    payload = spillReferences.reference(rs.getLong(1), null);
                }
            }
        } else {
            payload = "e" + Base64.getEncoder().encodeToString(bytes);
        }
        try (PreparedStatement statement = transaction.prepareStatement("SELECT pg_notify(?, ?)")) {
            statement.setString(1, channel);
            statement.setString(2, payload);
            statement.executeQuery().close();
        }
    }

    /** An outbox row that committed but cannot be stamped: announce its loss (see Publisher's invariants). */
    private byte @Nullable [] announceLost(Message message, RuntimeException cause) {
        String detail = "a message on topic '" + message.topic() + "' from " + replica()
                + " was lost: its outbox row committed but cannot be sent (" + FailureLog.describe(cause) + ")";
        long sequence = skipLost(message.topic(), detail);
        LOG.error(
                "Outbox row on topic '{}' cannot be sent ({}); it is announced as lost (sequence {}) so that"
                        + " subscribers on every replica see a Missed",
                message.topic(),
                FailureLog.describe(cause),
                sequence);
        byte[] topic = message.topic().getBytes(StandardCharsets.UTF_8);
        byte[] payload = ByteBuffer.allocate(Long.BYTES + topic.length)
                .putLong(sequence)
                .put(topic)
                .array();
        try {
            return encodeTransportEnvelope(Envelope.Kind.CONTROL, LOST_TOPIC, payload);
        } catch (RuntimeException e) {
            LOG.warn(
                    "Could not announce the lost message on topic '{}' ({}); receivers see the gap at the next"
                            + " message on that topic",
                    message.topic(),
                    FailureLog.describe(e));
            return null;
        }
    }

    @Override
    protected void onControl(Envelope envelope) {
        if (!LOST_TOPIC.equals(envelope.topic()) || envelope.isFrom(replica()) || envelope.payloadSize() < Long.BYTES) {
            return; // our own announcement: local subscribers were told when it was made
        }
        ByteBuffer payload = ByteBuffer.wrap(envelope.payload());
        long sequence = payload.getLong();
        String topic = StandardCharsets.UTF_8.decode(payload).toString();
        reportMissed(
                topic,
                new dev.chorus.backplane.Missed(
                        dev.chorus.backplane.Missed.Cause.SEQUENCE_GAP,
                        envelope.origin(),
                        "envelope " + sequence + " on topic '" + topic + "' from " + envelope.origin()
                                + " was lost at its origin: its outbox row could not be sent",
                        clock().instant()));
    }

    // ---- receiving ----
    // Payloads go from the listener's event loop to NotificationReceiver, which hands envelope bytes back to
    // received() and loads spill references on a fetcher of its own (see its invariants).

    @Override
    protected void onCanary(Envelope envelope) {
        if (!envelope.isFrom(replica()) || envelope.payloadSize() != Long.BYTES) {
            return;
        }
        long sentNanos = ByteBuffer.wrap(envelope.payload()).getLong();
        boolean recovered;
        synchronized (canaryLock) {
            if (canaryOutstandingSince < 0 || sentNanos - canaryOutstandingSince < 0) {
                return;
            }
            lastCanaryRoundTripNanos = System.nanoTime() - sentNanos;
            canaryOutstandingSince = -1;
            recovered = canaryFailed;
            canaryFailed = false;
        }
        if (recovered && listening) {
            connectionRestored("the canary came back: notifications are delivered again");
        }
    }

    // ---- health ----

    private void onListening(String how) {
        synchronized (canaryLock) {
            canaryOutstandingSince = -1;
            canaryFailed = false;
        }
        listening = true;
        connectionRestored(how);
    }

    private void onListenerLost(String reason, @Nullable Throwable cause) {
        listening = false;
        connectionLost(reason, cause);
    }

    private void canaryTick() {
        try {
            long now = System.nanoTime();
            String failure = null;
            synchronized (canaryLock) {
                if (canaryOutstandingSince >= 0) {
                    if (now - canaryOutstandingSince > canaryTimeout.toNanos() && listening && !canaryFailed) {
                        canaryFailed = true;
                        failure = "a canary notification did not come back within " + canaryTimeout.toMillis()
                                + " ms although the listener is connected: notifications are not delivered"
                                + " (is the listener behind a transaction-pooling proxy, or the publisher unable"
                                + " to reach " + database.describe() + "?)";
                    }
                } else {
                    canaryOutstandingSince = now;
                }
                if (canaryOutstandingSince == now || canaryFailed) {
                    byte[] nonce = ByteBuffer.allocate(Long.BYTES).putLong(now).array();
                    if (canaryFailed) {
                        canaryOutstandingSince = Math.min(canaryOutstandingSince, now);
                    }
                    publisher.offerUnwatched(encodeTransportEnvelope(Envelope.Kind.CANARY, CANARY_TOPIC, nonce));
                }
            }
            if (failure != null) {
                connectionLost(failure, null);
            }
        } catch (RuntimeException e) {
            LOG.warn("Canary check failed", e);
        }
    }

    private void watchQueueUsage() {
        try (Connection c = database.connection();
                Statement statement = c.createStatement();
                ResultSet rs = statement.executeQuery("SELECT pg_notification_queue_usage()")) {
            if (rs.next()) {
                double usage = rs.getDouble(1);
                if (usage > queueUsageThreshold && queueUsage <= queueUsageThreshold) {
                    LOG.error(
                            "PostgreSQL's notification queue is {}% full (threshold {}%): a listener somewhere"
                                    + " is not consuming (a long transaction on a LISTENing connection?); NOTIFY will fail"
                                    + " when it is full",
                            Math.round(usage * 100), Math.round(queueUsageThreshold * 100));
                } else if (usage <= queueUsageThreshold && queueUsage > queueUsageThreshold) {
                    LOG.info("PostgreSQL's notification queue is back to {}% full", Math.round(usage * 100));
                }
                queueUsage = usage;
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Could not read pg_notification_queue_usage()", e);
        }
    }

    private void deleteOldSpills() {
        try (Connection c = database.connection();
                PreparedStatement statement = c.prepareStatement("DELETE FROM " + database.schema()
                        + ".spill WHERE created_at < now() - make_interval(secs => ?)")) {
            statement.setDouble(1, spillRetention.toMillis() / 1000.0);
            int deleted = statement.executeUpdate();
            if (deleted > 0) {
                LOG.debug("Deleted {} spilled envelopes older than {}", deleted, spillRetention);
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Could not delete old spilled envelopes", e);
        }
    }

    @Override
    protected @Nullable String extraDegradedReason() {
        if (queueUsage > queueUsageThreshold) {
            return "PostgreSQL's notification queue is " + Math.round(queueUsage * 100) + "% full (threshold "
                    + Math.round(queueUsageThreshold * 100) + "%)";
        }
        return null;
    }

    @Override
    protected void addHealthDetails(Map<String, Object> details) {
        details.put("database", database.describe());
        details.put("listening", listening);
        details.put("notificationQueueUsage", queueUsage);
        details.put("publishQueue", publisher.queued());
        details.put("spill", receiver.stats());
        details.put("publishQueueBytes", publisher.queuedBytes());
        long ping = listener.lastPingNanos();
        if (ping >= 0) {
            details.put("listenerPingMicros", ping / 1000);
        }
        synchronized (canaryLock) {
            if (lastCanaryRoundTripNanos >= 0) {
                details.put("canaryRoundTripMicros", lastCanaryRoundTripNanos / 1000);
            }
        }
    }

    /** The backend pid of the listening connection, or -1; for operators and fault tests. */
    public int listenerBackendPid() {
        return listener.backendPid();
    }

    @Override
    protected void doClose() {
        scheduler.shutdownNow();
        listener.close();
        receiver.close();
        publisher.close();
    }

    /** Builds a {@link PostgresBackplane}. */
    public static final class Builder {
        private final PostgresDatabase database;
        private ReplicaId replica = ReplicaId.random();
        private String channel = DEFAULT_CHANNEL;
        private @Nullable Secret secret;
        private boolean allowUnsigned;
        private Duration replayWindow = ChorusConfig.DEFAULT_REPLAY_WINDOW;
        private int maxEnvelopeBytes = ChorusConfig.DEFAULT_MAX_ENVELOPE_BYTES;
        private TransactionalPublish transactionalPublish = TransactionalPublish.OUTBOX;
        private boolean relayOutbox = true;
        private Duration outboxPollInterval = DEFAULT_OUTBOX_POLL_INTERVAL;
        private Duration canaryInterval = DEFAULT_CANARY_INTERVAL;
        private Duration canaryTimeout = DEFAULT_CANARY_TIMEOUT;
        private Duration pingInterval = DEFAULT_PING_INTERVAL;
        private Duration pingTimeout = DEFAULT_PING_TIMEOUT;
        private double queueUsageThreshold = DEFAULT_QUEUE_USAGE_THRESHOLD;
        private Duration spillRetention = DEFAULT_SPILL_RETENTION;
        private int publishQueueCapacity = DEFAULT_PUBLISH_QUEUE_CAPACITY;
        private int spillFetchQueueCapacity = DEFAULT_SPILL_FETCH_QUEUE_CAPACITY;
        private int spillFetchRate = DEFAULT_SPILL_FETCH_RATE;
        private Duration spillFetchTimeout = DEFAULT_SPILL_FETCH_TIMEOUT;
        private long sendQueueBytes = ChorusConfig.DEFAULT_SEND_QUEUE_BYTES;
        private long receiveQueueBytes = ChorusConfig.DEFAULT_RECEIVE_QUEUE_BYTES;
        private Backoff backoff = Backoff.defaults();
        private Clock clock = Clock.systemUTC();

        private Builder(PostgresDatabase database) {
            this.database = Objects.requireNonNull(database, "database");
        }

        /** This replica's identity; random by default. */
        public Builder replica(ReplicaId replica) {
            this.replica = Objects.requireNonNull(replica, "replica");
            return this;
        }

        /**
         * The channel (and cluster name): lower-case letters, digits and {@code _}, so that {@code LISTEN} and
         * {@code pg_notify} always agree on its case.
         */
        public Builder channel(String channel) {
            if (channel == null || !CHANNEL.matcher(channel).matches()) {
                throw new ChorusException("Invalid channel '" + channel + "': use lower-case letters, digits and _,"
                        + " starting with a letter, at most 48 characters (for example 'orders_prod'). PostgreSQL"
                        + " folds unquoted LISTEN names to lower case, so mixed case would silently split a cluster.");
            }
            this.channel = channel;
            return this;
        }

        /** Signs every envelope with this secret and requires signatures on every received one. */
        public Builder secret(@Nullable Secret secret) {
            this.secret = secret;
            return this;
        }

        /**
         * Runs without a cluster secret, so anyone who can publish on the channel can inject messages; without
         * this (or a secret) {@link #build()} refuses. Logged at WARN and shown in health.
         */
        public Builder allowUnsigned() {
            return allowUnsigned(true);
        }

        /** Whether this backplane may run without a cluster secret ({@code CHORUS_ALLOW_UNSIGNED}). */
        public Builder allowUnsigned(boolean allowUnsigned) {
            this.allowUnsigned = allowUnsigned;
            return this;
        }

        /**
         * How far a received signed envelope's timestamp may be from this replica's clock before it is
         * refused as a replay; {@link ChorusConfig#DEFAULT_REPLAY_WINDOW} by default.
         */
        public Builder replayWindow(Duration replayWindow) {
            this.replayWindow = Checks.positive("replayWindow", replayWindow);
            return this;
        }

        /** The largest envelope sent or accepted; larger ones than a notification go through the spill table. */
        public Builder maxEnvelopeBytes(int maxEnvelopeBytes) {
            this.maxEnvelopeBytes = maxEnvelopeBytes;
            return this;
        }

        /** How {@code publish(Connection, Message)} ties a message to a transaction; OUTBOX by default. */
        public Builder transactionalPublish(TransactionalPublish transactionalPublish) {
            this.transactionalPublish = Objects.requireNonNull(transactionalPublish, "transactionalPublish");
            return this;
        }

        /** Whether this replica relays the outbox (every replica does by default; any one is enough). */
        public Builder relayOutbox(boolean relayOutbox) {
            this.relayOutbox = relayOutbox;
            return this;
        }

        /** How often the outbox is polled when no local commit woke the relay. */
        public Builder outboxPollInterval(Duration outboxPollInterval) {
            this.outboxPollInterval = Checks.positive("outboxPollInterval", outboxPollInterval);
            return this;
        }

        /** How often a canary is sent, and how long it may take before health turns DEGRADED. */
        public Builder canary(Duration interval, Duration timeout) {
            this.canaryInterval = Checks.positive("canary interval", interval);
            this.canaryTimeout = Checks.positive("canary timeout", timeout);
            return this;
        }

        /** How often the listening connection is pinged, and how long a ping may take before it is dropped. */
        public Builder ping(Duration interval, Duration timeout) {
            this.pingInterval = Checks.positive("ping interval", interval);
            this.pingTimeout = Checks.positive("ping timeout", timeout);
            return this;
        }

        /** Notification queue usage (0..1) above which health turns DEGRADED. */
        public Builder queueUsageThreshold(double threshold) {
            if (!(threshold > 0 && threshold <= 1)) {
                throw new ChorusException(
                        "queueUsageThreshold must be in (0, 1], was " + threshold + " (for example 0.5)");
            }
            this.queueUsageThreshold = threshold;
            return this;
        }

        /** How long spilled envelopes are kept. */
        public Builder spillRetention(Duration spillRetention) {
            this.spillRetention = Checks.positive("spillRetention", spillRetention);
            return this;
        }

        /** Envelopes that may wait for the publisher before publishes fail. */
        public Builder publishQueueCapacity(int capacity) {
            this.publishQueueCapacity = Checks.positive("publishQueueCapacity", capacity);
            return this;
        }

        /**
         * How spill references are loaded: at most {@code queueCapacity} wait (more are dropped and counted), at
         * most {@code perSecond} are loaded a second, and a fetch that takes longer than {@code timeout} gives its
         * references up. Subscribers see a dropped or given-up spilled envelope as a gap.
         */
        public Builder spillFetch(int queueCapacity, int perSecond, Duration timeout) {
            this.spillFetchQueueCapacity = Checks.positive("spill fetch queue capacity", queueCapacity);
            this.spillFetchRate = Checks.positive("spill fetch rate", perSecond);
            this.spillFetchTimeout = Checks.positive("spill fetch timeout", timeout);
            return this;
        }

        /**
         * Bytes of envelopes that may wait for the publisher before publishes fail (default 32 MiB,
         * {@value ChorusConfig#SEND_QUEUE_BYTES}).
         */
        public Builder sendQueueBytes(long bytes) {
            this.sendQueueBytes = Checks.positive("sendQueueBytes", bytes);
            return this;
        }

        /**
         * Payload bytes each subscription may have waiting before envelopes are dropped with a Missed signal
         * (default 32 MiB, {@value ChorusConfig#RECEIVE_QUEUE_BYTES}).
         */
        public Builder receiveQueueBytes(long bytes) {
            this.receiveQueueBytes = Checks.positive("receiveQueueBytes", bytes);
            return this;
        }

        /** Reconnect timing; 1 s first, 30 s cap by default. */
        public Builder backoff(Backoff backoff) {
            this.backoff = Objects.requireNonNull(backoff, "backoff");
            return this;
        }

        /** The clock for envelope timestamps. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Starts the backplane; it connects in the background and reports DEGRADED until it listens. */
        public PostgresBackplane build() {
            WireSecurity.requireSecret("postgres", secret, allowUnsigned);
            return new PostgresBackplane(this);
        }
    }
}
