package io.editstream.embedded;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * The embedded default platform: a broker and a schema registry, started concurrently (the registry's JVM start
 * overlaps with the broker's) and closed together, registry first.
 */
public final class EmbeddedStack implements AutoCloseable {
    private final EmbeddedKafka kafka;
    private final EmbeddedRegistry registry;

    private EmbeddedStack(EmbeddedKafka kafka, EmbeddedRegistry registry) {
        this.kafka = kafka;
        this.registry = registry;
    }

    /** Starts both and creates the given topics (name → partitions). */
    public static EmbeddedStack start(Map<String, Integer> topics) {
        return start(EmbeddedRegistry::start, EmbeddedKafka::start, topics);
    }

    /**
     * As {@link #start(Map)}, both keeping their data under {@code dir} ({@code kafka/}, {@code registry/}) and
     * coming back on the same ports with it when started again on the same directory; topics that exist stay as they are.
     */
    public static EmbeddedStack startPersistent(Path dir, Map<String, Integer> topics) {
        return start(() -> EmbeddedRegistry.startPersistent(dir.resolve("registry")), () -> EmbeddedKafka.startPersistent(dir.resolve("kafka")),
                topics);
    }

    private static EmbeddedStack start(Supplier<EmbeddedRegistry> startRegistry, Supplier<EmbeddedKafka> startKafka,
                                       Map<String, Integer> topics) {
        CompletableFuture<EmbeddedRegistry> registry = CompletableFuture.supplyAsync(startRegistry);
        EmbeddedKafka kafka;
        try {
            kafka = startKafka.get();
        } catch (RuntimeException | Error e) {
            registry.thenAccept(EmbeddedRegistry::close);
            throw e;
        }
        try {
            kafka.createTopics(topics);
            return new EmbeddedStack(kafka, registry.join());
        } catch (CompletionException e) {
            kafka.close();
            throw e.getCause() instanceof RuntimeException re ? re : e;
        } catch (RuntimeException | Error e) {
            kafka.close();
            registry.thenAccept(EmbeddedRegistry::close);
            throw e;
        }
    }

    public EmbeddedKafka kafka() {
        return kafka;
    }

    public EmbeddedRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        try {
            registry.close();
        } finally {
            kafka.close();
        }
    }
}
