package io.editstream.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

import ai.djl.Device;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.follow.CheckpointFollower;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.embedded.EmbeddedStack;
import io.editstream.events.SerdeSettings;
import io.editstream.events.Topics;
import io.editstream.streams.CorrectionsApp;
import io.editstream.streams.TopologySettings;
import io.editstream.worker.EditorWorker;
import io.editstream.worker.WorkerSettings;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole chain on the embedded platform, as {@code serve} and the demo run it: a broker and a registry keeping their
 * data under {@code dataDir/platform}, the corrections topology (state under {@code dataDir/streams}), the editor
 * worker writing to a file-system store, and a fleet subscriber of one model serving completions.
 * Started again on the same directory it finds everything where it was: the same ports, the committed versions, the
 * topology's sequence numbers.
 */
final class LocalDeployment implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalDeployment.class);
    private static final int PARTITIONS = 2;

    /**
     * @param followed the model the subscriber follows and serves
     * @param httpPort the subscriber's HTTP port (0: any free port)
     */
    record Options(Path dataDir, Path storeDir, WorkerSettings worker, List<String> models, TopologySettings topology, String followed,
                   int httpPort, int threads) {
        Options {
            models = List.copyOf(models);
            worker.select(models);
            if (!models.contains(followed)) {
                throw new IllegalArgumentException("the subscriber follows " + followed + ", which is not among the models edited " + models);
            }
        }

        /** The topology's defaults for these models, with pure sequential editing (batches of one). */
        static TopologySettings topologyFor(List<String> models) {
            return TopologySettings.defaults(new LinkedHashSet<>(models));
        }
    }

    private final Options options;
    private EmbeddedStack stack;
    private SerdeSettings serdes;
    private CheckpointStore store;
    private CorrectionsApp topology;
    private EditorWorker worker;
    private FleetSubscriber subscriber;
    private Telemetry telemetry;
    private ChainObserver observer;
    /** Ctrl-C's hook and the command's own end both close it: once. */
    private boolean closed;

    private LocalDeployment(Options options) {
        this.options = options;
    }

    /** Starts every part in turn; on a failure whatever started is closed. */
    static LocalDeployment start(Options options) throws IOException {
        LocalDeployment deployment = new LocalDeployment(options);
        try {
            deployment.open();
            return deployment;
        } catch (IOException | RuntimeException | Error e) {
            deployment.close();
            throw e;
        }
    }

    private void open() throws IOException {
        Files.createDirectories(options.dataDir());
        Map<String, Integer> topics = new HashMap<>(CorrectionsApp.topicPartitions(options.topology(), PARTITIONS));
        topics.put(Topics.CHECKPOINTS, 1);
        topics.put(Topics.EVALUATIONS, 1);
        log.info("starting the embedded broker and registry (data in {})", options.dataDir().resolve("platform"));
        stack = EmbeddedStack.startPersistent(options.dataDir().resolve("platform"), topics);
        serdes = SerdeSettings.apicurio(stack.registry().apiUrl());
        store = new CheckpointStore(ObjectStores.open(storeDir().toString()), options.worker().snapshotEvery());
        topology = CorrectionsApp.start(bootstrap(), options.topology(), serdes, Map.of(
                StreamsConfig.APPLICATION_ID_CONFIG, "editstream-local",
                StreamsConfig.STATE_DIR_CONFIG, options.dataDir().resolve("streams").toString()));
        log.info("starting the editor worker for {} (a model's C0 and editor setup are computed on its first start)", options.models());
        worker = EditorWorker.start(bootstrap(), serdes, store, options.worker(), options.models());
        CheckpointFollower.Settings follow = CheckpointFollower.Settings.of(bootstrap(), serdes, options.followed());
        subscriber = FleetSubscriber.start(storeDir().toString(), follow,
                new FleetSubscriber.Serving(options.httpPort(), null, Device.cpu(), options.threads()));
        telemetry = new Telemetry();
        telemetry.bindStreams(topology, options.topology());
        telemetry.bindWorker(worker);
        telemetry.bindFollower(subscriber.follower());
        observer = new ChainObserver(Map.of(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap()), serdes, store, telemetry.registry());
        telemetry.serveOn(subscriber.server());
    }

    /** What the worker published so far (versions, their measures, edit latencies). */
    ChainObserver observer() {
        return observer;
    }

    String bootstrap() {
        return stack.kafka().bootstrapServers();
    }

    SerdeSettings serdes() {
        return serdes;
    }

    EmbeddedStack stack() {
        return stack;
    }

    Path storeDir() {
        return options.storeDir().toAbsolutePath();
    }

    CheckpointStore store() {
        return store;
    }

    CorrectionsApp topology() {
        return topology;
    }

    EditorWorker worker() {
        return worker;
    }

    FleetSubscriber subscriber() {
        return subscriber;
    }

    /** Closes the subscriber, the worker (its batch in progress commits or aborts), the topology, the store and the platform. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (observer != null) {
                observer.close();
            }
            if (telemetry != null) {
                telemetry.close();
            }
            if (subscriber != null) {
                subscriber.close();
            }
            if (worker != null) {
                worker.close();
            }
            if (topology != null) {
                topology.close();
            }
        } finally {
            try {
                if (store != null) {
                    store.close();
                }
            } catch (IOException e) {
                log.warn("closing the store {}: {}", storeDir(), e.getMessage());
            } finally {
                if (stack != null) {
                    stack.close();
                }
            }
        }
    }
}
