package io.editstream.embedded;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

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
        CompletableFuture<EmbeddedRegistry> registry = CompletableFuture.supplyAsync(EmbeddedRegistry::start);
        EmbeddedKafka kafka;
        try {
            kafka = EmbeddedKafka.start();
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
