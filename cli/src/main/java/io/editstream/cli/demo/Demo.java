package io.editstream.cli.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.cli.demo.DemoInput.Fate;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.PipelineMetrics;
import io.editstream.streams.TopologySettings;

/**
 * The demo, start to end: an embedded broker and registry, the corrections topology on them, the scenario fed in,
 * and everything it produced read back. Each stage is a step of {@link #run}; later stages of the pipeline (the
 * editor applying the batches) join as further steps over the same stack.
 */
public final class Demo {
    private static final Logger log = LoggerFactory.getLogger(Demo.class);
    private static final int PARTITIONS = 2;
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);

    private Demo() {
    }

    public static DemoOutcome run(DemoOptions options) {
        long started = System.nanoTime();
        DemoScenario scenario = DemoScenario.fromCounterFact(options.counterFact(), options.models(),
                options.factsPerModel(), options.seed(), Instant.now());
        TopologySettings settings = TopologySettings.defaults(new LinkedHashSet<>(options.models()))
                .withGrace(options.grace())
                .withBatching(options.batchMaxEdits(), options.batchLinger());
        Map<String, Integer> topics = new HashMap<>(CorrectionsApp.topicPartitions(settings, PARTITIONS));
        topics.put(Topics.CHECKPOINTS, PARTITIONS);
        topics.put(Topics.EVALUATIONS, PARTITIONS);

        log.info("starting an embedded Kafka broker and Apicurio Registry");
        Path stateDir = temporaryDirectory();
        try (EmbeddedStack stack = EmbeddedStack.start(topics)) {
            String bootstrap = stack.kafka().bootstrapServers();
            SerdeSettings serdes = SerdeSettings.apicurio(stack.registry().apiUrl());
            Map<String, Object> streamsConfig = Map.of(
                    StreamsConfig.APPLICATION_ID_CONFIG, "editstream-demo",
                    StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
            try (CorrectionsApp app = CorrectionsApp.start(bootstrap, settings, serdes, streamsConfig);
                    DemoObserver observer = new DemoObserver(bootstrap, serdes, settings.editRequestsTopic(),
                            settings.deadLetterTopic());
                    DemoFeeder feeder = new DemoFeeder(bootstrap, serdes, settings.correctionsTopic())) {
                log.info("feeding {} records to {}", scenario.inputs().size(), settings.correctionsTopic());
                feeder.feed(scenario.inputs());
                boolean complete = awaitEverything(scenario, app, observer, options.timeout());
                return new DemoOutcome(scenario, observer.batches(), observer.deadLetters(),
                        PipelineMetrics.total(app.metrics(), PipelineMetrics.EXACT_DUPLICATES),
                        PipelineMetrics.total(app.metrics(), PipelineMetrics.SEMANTIC_DUPLICATES),
                        PipelineMetrics.total(app.metrics(), PipelineMetrics.LATE),
                        complete, Duration.ofNanos(System.nanoTime() - started));
            }
        } finally {
            deleteRecursively(stateDir);
        }
    }

    /** Polls until every record fed is accounted for (through, dropped or refused), or the timeout. */
    private static boolean awaitEverything(DemoScenario scenario, CorrectionsApp app, DemoObserver observer,
            Duration timeout) {
        Map<Fate, Integer> expected = scenario.expected();
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextProgress = System.nanoTime() + PROGRESS_EVERY.toNanos();
        while (true) {
            observer.poll();
            long dropped = PipelineMetrics.total(app.metrics(), PipelineMetrics.EXACT_DUPLICATES)
                    + PipelineMetrics.total(app.metrics(), PipelineMetrics.SEMANTIC_DUPLICATES);
            int through = observer.correctionsThrough();
            int refused = observer.deadLetters().size();
            if (through >= expected.get(Fate.THROUGH) && refused >= expected.get(Fate.DEAD_LETTER)
                    && dropped >= expected.get(Fate.DROPPED)) {
                return true;
            }
            long now = System.nanoTime();
            if (now > deadline) {
                log.warn("gave up after {} s: {} of {} corrections through, {} of {} duplicates dropped, {} of {} "
                        + "dead letters", timeout.toSeconds(), through, expected.get(Fate.THROUGH), dropped,
                        expected.get(Fate.DROPPED), refused, expected.get(Fate.DEAD_LETTER));
                return false;
            }
            if (now > nextProgress) {
                log.info("waiting for the topology: {}/{} corrections through, {}/{} duplicates dropped, {}/{} dead "
                        + "letters", through, expected.get(Fate.THROUGH), dropped, expected.get(Fate.DROPPED),
                        refused, expected.get(Fate.DEAD_LETTER));
                nextProgress = now + PROGRESS_EVERY.toNanos();
            }
        }
    }

    private static Path temporaryDirectory() {
        try {
            return Files.createTempDirectory("editstream-demo-streams-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the demo's state directory", e);
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("could not delete the demo's state directory {}: {}", dir, e.getMessage());
        }
    }
}
