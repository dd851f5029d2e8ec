package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import ai.djl.Device;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.follow.CheckpointFollower;
import io.editstream.checkpoint.follow.FollowStatus;
import io.editstream.checkpoint.follow.Refusal;
import io.editstream.checkpoint.follow.VersionSink;
import io.editstream.checkpoint.objects.ObjectStores;
import io.editstream.model.LanguageModel;
import io.editstream.model.format.ModelLoader;
import io.editstream.serving.CompletionServer;
import io.editstream.serving.ServedModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fleet subscriber as {@code follow} and {@code serve} run it: its own store client, the follower, and with a port
 * the served model and its HTTP endpoint (completions, status, the admin endpoint that pins or rolls back), closed once
 * whichever way the command ends.
 */
final class FleetSubscriber implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FleetSubscriber.class);

    /**
     * How the subscriber serves completions.
     *
     * @param port    0 for any free port
     * @param weights the base model to serve; null: the source the store's base names
     */
    record Serving(int port, Path weights, Device device, int threads) {
    }

    private final String storeUri;
    private CheckpointStore checkpoints;
    private ServedModel served;
    private CompletionServer server;
    private CheckpointFollower follower;
    private boolean closed;

    private FleetSubscriber(String storeUri) {
        this.storeUri = storeUri;
    }

    /** Starts following (and serving, when {@code serving} is given); everything started is closed on a failure. */
    static FleetSubscriber start(String storeUri, CheckpointFollower.Settings settings, Serving serving) throws IOException {
        FleetSubscriber subscriber = new FleetSubscriber(storeUri);
        try {
            subscriber.open(settings, serving);
            return subscriber;
        } catch (IOException | RuntimeException | Error e) {
            subscriber.close();
            throw e;
        }
    }

    private synchronized void open(CheckpointFollower.Settings settings, Serving serving) throws IOException {
        checkpoints = new CheckpointStore(ObjectStores.open(storeUri), 0);
        VersionSink sink = VersionSink.NONE;
        if (serving != null) {
            served = new ServedModel(settings.modelId(), loadWeights(settings.modelId(), serving));
            settings = settings.withExpectedBase(served.baseSha256());
            sink = served;
            server = CompletionServer.start(serving.port(), served, () -> follower.status(), target -> follower.moveTo(target),
                    serving.threads());
        }
        follower = CheckpointFollower.start(settings, checkpoints, sink);
    }

    private LanguageModel loadWeights(String modelId, Serving serving) throws IOException {
        Path path = serving.weights();
        if (path == null) {
            BaseModel base = checkpoints.base(modelId).orElseThrow(() -> new CommandFailure("model " + modelId
                    + " has no base in the store " + storeUri + " yet: give --weights, or start its worker first"));
            path = Path.of(base.source());
        }
        try {
            return ModelLoader.load(ModelOptions.resolve(path), serving.device());
        } catch (IOException e) {
            throw new CommandFailure("cannot load the weights to serve from " + path + ": " + e.getMessage(), e);
        }
    }

    CheckpointFollower follower() {
        return follower;
    }

    /** The HTTP endpoint; null when not serving. */
    CompletionServer server() {
        return server;
    }

    /**
     * Prints a line whenever what the subscriber serves changes, until {@code stopped} counts down, an interrupt, or
     * the follower fails (a {@link CommandFailure}).
     */
    void reportUntil(CountDownLatch stopped, PrintWriter out) {
        FollowStatus shown = null;
        while (!awaitStop(stopped)) {
            FollowStatus now = follower.status();
            if (shown == null || changed(shown, now)) {
                out.println(line(now));
                out.flush();
                shown = now;
            }
            if (now.state() == FollowStatus.State.FAILED) {
                throw new CommandFailure(now.modelId() + ": " + now.failure());
            }
        }
    }

    private static boolean changed(FollowStatus before, FollowStatus now) {
        return before.state() != now.state() || before.version() != now.version() || before.latestCommitted() != now.latestCommitted()
                || !before.target().equals(now.target()) || !Objects.equals(before.lastRefusal(), now.lastRefusal());
    }

    static String line(FollowStatus status) {
        StringBuilder line = new StringBuilder(status.modelId()).append(": ").append(status.state().name().toLowerCase(Locale.ROOT));
        if (status.version() >= 0) {
            line.append(", version ").append(status.version());
        }
        line.append(" (latest committed ").append(status.latestCommitted()).append(", ").append(status.target()).append(')');
        Refusal refusal = status.lastRefusal();
        if (refusal != null) {
            line.append("; refused version ").append(refusal.version()).append(": ").append(refusal.reason());
        }
        return line.toString();
    }

    private static boolean awaitStop(CountDownLatch stopped) {
        try {
            return stopped.await(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // closing waits for the follower's thread and the requests in flight; an interrupt left set would cut that short
        boolean interrupted = Thread.interrupted();
        try {
            if (follower != null) {
                follower.close();
            }
            if (server != null) {
                server.close();
            }
            if (served != null) {
                served.close();
            }
            if (checkpoints != null) {
                checkpoints.close();
            }
        } catch (IOException e) {
            log.warn("closing the store {}: {}", storeUri, e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
