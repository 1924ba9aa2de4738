package dev.chorus.server;

import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.BackplaneStats;
import dev.chorus.cache.CacheMetrics;
import dev.chorus.cache.ReplicatedCache;
import dev.chorus.events.DropReason;
import dev.chorus.events.EventHub;
import dev.chorus.events.EventHubStats;
import dev.chorus.wire.Rejection;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.function.IntSupplier;
import java.util.function.ToDoubleFunction;

/** The replica's Prometheus metrics: HTTP, JVM, backplane, cache and events. */
public final class ServerMetrics implements AutoCloseable {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    ServerMetrics(Backplane backplane, ReplicatedCache<?, ?> cache, EventHub hub) {
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new CacheMetrics(cache).bindTo(registry);
        backplaneCounter(backplane, "published", BackplaneStats::published);
        backplaneCounter(backplane, "received", BackplaneStats::received);
        backplaneCounter(backplane, "delivered", BackplaneStats::delivered);
        backplaneCounter(backplane, "rejected", BackplaneStats::rejectedTotal);
        for (Rejection reason : Rejection.values()) {
            // Per reason, so that replays (REPLAYED) and forgeries (BAD_SIGNATURE) can alert on their own.
            FunctionCounter.builder(
                            "chorus.backplane.rejections",
                            backplane,
                            b -> b.stats().rejected().getOrDefault(reason, 0L))
                    .tag("backend", backplane.backend())
                    .tag("reason", reason.name().toLowerCase(java.util.Locale.ROOT))
                    .register(registry);
        }
        backplaneCounter(backplane, "gaps", BackplaneStats::gaps);
        backplaneCounter(backplane, "overflow.drops", BackplaneStats::overflowDrops);
        backplaneCounter(backplane, "publish.failures", BackplaneStats::publishFailures);
        Gauge.builder("chorus.backplane.healthy", backplane, b -> b.health().isHealthy() ? 1 : 0)
                .description("1 while the backplane is healthy")
                .tag("backend", backplane.backend())
                .register(registry);
        eventCounter(hub, "published", EventHubStats::published);
        eventCounter(hub, "received", EventHubStats::received);
        eventCounter(hub, "delivered", EventHubStats::delivered);
        eventCounter(hub, "resumes.served", EventHubStats::resumesServed);
        eventCounter(hub, "resumes.refused", EventHubStats::resumesRefused);
        eventCounter(hub, "gaps", EventHubStats::gapsDetected);
        eventCounter(hub, "history.evicted", EventHubStats::historyEvicted);
        Gauge.builder("chorus.events.history.bytes", hub, h -> h.stats().historyBytes())
                .description("bytes of event data kept for resumes")
                .register(registry);
        for (DropReason reason : DropReason.values()) {
            FunctionCounter.builder("chorus.events.dropped", hub, h -> h.stats().dropped(reason))
                    .tag("reason", reason.name().toLowerCase(java.util.Locale.ROOT))
                    .register(registry);
        }
        Gauge.builder("chorus.events.sinks", hub, h -> h.stats().sinks()).register(registry);
        Gauge.builder("chorus.events.queue.high.water.mark", hub, h -> h.stats().queueHighWaterMark())
                .register(registry);
    }

    /** Exposes the number of open sockets of {@code kind} as {@code chorus_ws_connections{kind=…}}. */
    public void sockets(String kind, IntSupplier open) {
        Gauge.builder("chorus.ws.connections", open, IntSupplier::getAsInt)
                .description("WebSockets open on this replica")
                .tag("kind", kind)
                .strongReference(true) // the supplier is a lambda no one else holds
                .register(registry);
    }

    /** Exposes the number of agents whose session this replica holds as {@code chorus_agents_local}. */
    public void agents(IntSupplier held) {
        Gauge.builder("chorus.agents.local", held, IntSupplier::getAsInt)
                .description("Agents whose session this replica holds")
                .strongReference(true)
                .register(registry);
    }

    private void backplaneCounter(Backplane backplane, String name, ToDoubleFunction<BackplaneStats> value) {
        FunctionCounter.builder("chorus.backplane." + name, backplane, b -> value.applyAsDouble(b.stats()))
                .tag("backend", backplane.backend())
                .register(registry);
    }

    private void eventCounter(EventHub hub, String name, ToDoubleFunction<EventHubStats> value) {
        FunctionCounter.builder("chorus.events." + name, hub, h -> value.applyAsDouble(h.stats()))
                .register(registry);
    }

    /** The registry, for meters the HTTP layer records. */
    public MeterRegistry registry() {
        return registry;
    }

    /** Records one HTTP request. */
    public void request(String method, String route, int status, Duration took) {
        Timer.builder("http.server.requests")
                .tag("method", method)
                .tag("route", route)
                .tag("status", Integer.toString(status))
                .publishPercentileHistogram(false)
                .register(registry)
                .record(took);
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
