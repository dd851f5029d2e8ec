package io.editstream.embedded;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;

/**
 * A real single-node Kafka cluster (KRaft, combined broker + controller) running in this JVM, listening on
 * 127.0.0.1 only, with its log directory in a fresh temporary folder that is deleted on close.
 *
 * <p>Replication factors are 1 so that transactions (exactly-once) work on one node.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    private final Path logDir;
    private final String bootstrapServers;
    private final Properties properties;
    private KafkaRaftServer server;
    /** Whether the log directory outlives the broker (a restart of the process finds its data again). */
    private final boolean persistent;
    private boolean closed;

    private EmbeddedKafka(Path logDir, boolean persistent, String bootstrapServers, Properties properties, KafkaRaftServer server) {
        this.logDir = logDir;
        this.persistent = persistent;
        this.bootstrapServers = bootstrapServers;
        this.properties = properties;
        this.server = server;
    }

    /** Formats a temporary log directory, starts the broker and waits until it answers. */
    public static EmbeddedKafka start() {
        return start(Map.of());
    }

    /** As {@link #start()}, with broker properties that override the defaults. */
    public static EmbeddedKafka start(Map<String, String> overrides) {
        Path logDir = temporaryLogDir();
        try {
            return start(logDir, false, formatted(logDir, overrides));
        } catch (RuntimeException | Error e) {
            deleteRecursively(logDir);
            throw e;
        }
    }

    /**
     * As {@link #start()}, with a second listener, {@code SASL_PLAINTEXT} on a port of its own
     * ({@link #saslBootstrapServers}), that admits only the given users by SASL/PLAIN: for checking that clients
     * reach a secured cluster with their security settings. {@link #bootstrapServers} stays the plaintext listener.
     *
     * @param users user name → password
     */
    public static EmbeddedKafka startWithSaslPlain(Map<String, String> users) {
        int port = LoopbackPorts.freePort();
        StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
        users.forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
        jaas.append(';');
        Path logDir = temporaryLogDir();
        try {
            Properties props = brokerProperties(logDir, LoopbackPorts.freePort(), LoopbackPorts.freePort());
            String sasl = "SASL_PLAINTEXT://127.0.0.1:" + port;
            props.setProperty("listeners", props.getProperty("listeners") + "," + sasl);
            props.setProperty("advertised.listeners", props.getProperty("advertised.listeners") + "," + sasl);
            props.setProperty("listener.security.protocol.map", props.getProperty("listener.security.protocol.map")
                    + ",SASL_PLAINTEXT:SASL_PLAINTEXT");
            props.setProperty("sasl.enabled.mechanisms", "PLAIN");
            props.setProperty("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas.toString());
            format(logDir, props);
            return start(logDir, false, props);
        } catch (RuntimeException | Error e) {
            deleteRecursively(logDir);
            throw e;
        }
    }

    /** The SASL/PLAIN listener of a broker started by {@link #startWithSaslPlain}. */
    public String saslBootstrapServers() {
        return advertised(properties, "SASL_PLAINTEXT");
    }

    /**
     * A broker whose log directory {@code dir} survives it: formatted on the first start, and started again on the
     * same directory and ports by later ones (its {@code server.properties} holds them), so every record, committed
     * offset and transaction of an earlier process is still there. Closing it keeps the directory.
     */
    public static EmbeddedKafka startPersistent(Path dir) {
        Path config = dir.resolve("server.properties");
        Properties props;
        if (Files.isRegularFile(config)) {
            props = new Properties();
            try (var in = Files.newInputStream(config)) {
                props.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the broker's configuration " + config, e);
            }
        } else {
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the broker's log directory " + dir, e);
            }
            props = formatted(dir, Map.of());
        }
        return start(dir, true, props);
    }

    private static Path temporaryLogDir() {
        try {
            return Files.createTempDirectory("editstream-kafka-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the broker's log directory", e);
        }
    }

    private static Properties formatted(Path logDir, Map<String, String> overrides) {
        Properties props = brokerProperties(logDir, LoopbackPorts.freePort(), LoopbackPorts.freePort());
        overrides.forEach(props::setProperty);
        format(logDir, props);
        return props;
    }

    private static EmbeddedKafka start(Path logDir, boolean persistent, Properties props) {
        KafkaRaftServer server = null;
        try {
            server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
            server.startup();
            String bootstrap = advertised(props, "PLAINTEXT");
            EmbeddedKafka kafka = new EmbeddedKafka(logDir, persistent, bootstrap, props, server);
            kafka.awaitReady();
            log.info("Kafka broker ready on {} (log dir {})", bootstrap, logDir);
            return kafka;
        } catch (RuntimeException | Error e) {
            if (server != null) {
                stopQuietly(server);
            }
            throw e;
        }
    }

    private static Properties brokerProperties(Path logDir, int brokerPort, int controllerPort) {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("inter.broker.listener.name", "PLAINTEXT");
        p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.setProperty("log.dirs", logDir.resolve("data").toString());
        p.setProperty("num.partitions", "1");
        p.setProperty("default.replication.factor", "1");
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("offsets.topic.num.partitions", "4");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("transaction.state.log.num.partitions", "4");
        p.setProperty("share.coordinator.state.topic.replication.factor", "1");
        p.setProperty("share.coordinator.state.topic.min.isr", "1");
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        p.setProperty("auto.create.topics.enable", "false");
        // Small segments and a short check interval keep a long-running demo's temp dir small.
        p.setProperty("log.segment.bytes", String.valueOf(64 * 1024 * 1024));
        return p;
    }

    private static void format(Path logDir, Properties props) {
        Path config = logDir.resolve("server.properties");
        try (OutputStream out = Files.newOutputStream(config)) {
            props.store(out, "editstream embedded broker");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + config, e);
        }
        String clusterId = Uuid.randomUuid().toString();
        var output = new java.io.ByteArrayOutputStream();
        int rc;
        try (PrintStream ps = new PrintStream(output, true, StandardCharsets.UTF_8)) {
            rc = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config.toString()}, ps);
        }
        if (rc != 0) {
            throw new IllegalStateException("formatting the broker's storage failed (exit " + rc + "): "
                    + output.toString(StandardCharsets.UTF_8));
        }
        log.debug("formatted {}: {}", logDir, output.toString(StandardCharsets.UTF_8).strip());
    }

    /** The host:port a listener advertises. */
    private static String advertised(Properties props, String listener) {
        for (String entry : props.getProperty("advertised.listeners").split(",")) {
            if (entry.startsWith(listener + "://")) {
                return entry.substring(listener.length() + 3);
            }
        }
        throw new IllegalArgumentException("the broker advertises no listener " + listener + ": " + props.getProperty("advertised.listeners"));
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        try (Admin admin = admin()) {
            while (true) {
                try {
                    admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("broker on " + bootstrapServers + " not ready within "
                                + READY_TIMEOUT.toSeconds() + " s", e);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the broker", e);
                }
            }
        }
    }

    /** {@code host:port} for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** An admin client on this broker; the caller closes it. */
    public Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
    }

    /** Creates topics (name → partition count) with replication factor 1; existing topics are left as they are. */
    public void createTopics(Map<String, Integer> partitionsByTopic) {
        List<NewTopic> topics = partitionsByTopic.entrySet().stream()
                .map(e -> new NewTopic(e.getKey(), e.getValue(), (short) 1))
                .toList();
        try (Admin admin = admin()) {
            for (var entry : admin.createTopics(topics).values().entrySet()) {
                try {
                    entry.getValue().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + entry.getKey(), e.getCause());
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("timed out creating topics " + partitionsByTopic.keySet(), e);
        }
    }

    /**
     * Stops the broker and starts it again on the same log directory and ports, as a broker restart in a real cluster:
     * clients reconnect to the same address, and every committed record, offset and transaction is still there.
     */
    public synchronized void restart() {
        if (closed) {
            throw new IllegalStateException("the broker on " + bootstrapServers + " is closed");
        }
        stopQuietly(server);
        log.info("Kafka broker on {} stopped for a restart", bootstrapServers);
        server = new KafkaRaftServer(KafkaConfig.fromProps(properties, false), Time.SYSTEM);
        server.startup();
        awaitReady();
        log.info("Kafka broker on {} restarted (log dir {})", bootstrapServers, logDir);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopQuietly(server);
        if (!persistent) {
            deleteRecursively(logDir);
        }
        log.info("Kafka broker on {} stopped", bootstrapServers);
    }

    private static void stopQuietly(KafkaRaftServer server) {
        try {
            server.shutdown();
            server.awaitShutdown();
        } catch (RuntimeException e) {
            log.warn("error while stopping the broker", e);
        }
    }

    static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    log.warn("cannot delete {}: {}", p, e.getMessage());
                }
            });
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", root, e.getMessage());
        }
    }
}
