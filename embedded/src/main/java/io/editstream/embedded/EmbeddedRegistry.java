package io.editstream.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Apicurio Registry server (the Maven Central runner archive) in a child JVM on 127.0.0.1, with in-memory
 * storage. The child is killed on {@link #close()} and, if this JVM exits first, by a shutdown hook.
 *
 * <p>The archive is the one the build resolved through Maven (recorded in {@code registry.properties}); the
 * system property {@code editstream.registry.archive} points at another copy. It is unpacked once into
 * {@code java.io.tmpdir} (or {@code editstream.registry.home}) and reused.
 */
public final class EmbeddedRegistry implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedRegistry.class);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
    private static final String INFO_PATH = "/apis/registry/v3/system/info";

    private final Process process;
    private final Path logFile;
    private final String baseUrl;
    private final Thread shutdownHook;
    private boolean closed;

    private EmbeddedRegistry(Process process, Path logFile, String baseUrl) {
        this.process = process;
        this.logFile = logFile;
        this.baseUrl = baseUrl;
        this.shutdownHook = new Thread(process::destroyForcibly, "editstream-registry-reaper");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Unpacks the server if needed, starts it on a free loopback port and waits until it answers. */
    public static EmbeddedRegistry start() {
        return start(LoopbackPorts.freePort(), List.of());
    }

    /**
     * A registry whose schemas survive it: kept in an H2 database file under {@code dir}, served on the port the first
     * start chose (kept in {@code dir/port}), so the schema ids in records written before a restart resolve again.
     */
    public static EmbeddedRegistry startPersistent(Path dir) {
        Path portFile = dir.resolve("port");
        int port;
        try {
            Files.createDirectories(dir);
            if (Files.isRegularFile(portFile)) {
                port = Integer.parseInt(Files.readString(portFile).strip());
            } else {
                port = LoopbackPorts.freePort();
                Files.writeString(portFile, Integer.toString(port));
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot use the registry's data directory " + dir + ": " + e.getMessage(), e);
        }
        return start(port, List.of("-Dapicurio.datasource.url=jdbc:h2:file:" + dir.toAbsolutePath().resolve("registry")));
    }

    private static EmbeddedRegistry start(int port, List<String> options) {
        Path home = unpackedServer();
        Path logFile;
        try {
            logFile = Files.createTempFile("editstream-registry-", ".log");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the registry's log file", e);
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // A small heap and the C1 compiler only: the registry serves a handful of schemas, and on a
                // 2-core machine a full JIT warm-up competes with the broker and the model.
                "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dquarkus.http.host=127.0.0.1",
                "-Dquarkus.http.port=" + port,
                "-Dquarkus.management.enabled=false",
                "-Dquarkus.log.level=WARN",
                "-Dapicurio.rest.deletion.artifact.enabled=true"));
        command.addAll(options);
        command.addAll(List.of("-jar", home.resolve(runnerJarName()).toString()));
        Process process;
        try {
            process = new ProcessBuilder(command)
                    .directory(home.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(logFile.toFile())
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the registry: " + String.join(" ", command), e);
        }
        String baseUrl = "http://127.0.0.1:" + port;
        EmbeddedRegistry registry = new EmbeddedRegistry(process, logFile, baseUrl);
        try {
            registry.awaitReady();
        } catch (RuntimeException e) {
            registry.close();
            throw e;
        }
        log.info("Apicurio Registry ready on {} (log {})", baseUrl, logFile);
        return registry;
    }

    /** Base URL, e.g. {@code http://127.0.0.1:PORT}. */
    public String baseUrl() {
        return baseUrl;
    }

    /** The URL the Apicurio serde takes as {@code apicurio.registry.url}. */
    public String apiUrl() {
        return baseUrl + "/apis/registry/v3";
    }

    /** The Confluent-compatible API, for Confluent-style clients. */
    public String confluentCompatibleUrl() {
        return baseUrl + "/apis/ccompat/v7";
    }

    private void awaitReady() {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + INFO_PATH))
                .timeout(Duration.ofSeconds(5)).GET().build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the registry exited with code " + process.exitValue()
                        + " before it was ready; its log ends with:\n" + logTail());
            }
            try {
                HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the registry", e);
            }
            sleep(Duration.ofMillis(200));
        }
        throw new IllegalStateException("the registry on " + baseUrl + " was not ready within "
                + READY_TIMEOUT.toSeconds() + " s; its log ends with:\n" + logTail());
    }

    private String logTail() {
        try {
            // stack frames crowd out the messages that say what went wrong: keep the messages
            List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8).stream()
                    .filter(line -> !line.stripLeading().startsWith("at ") && !line.stripLeading().startsWith("... "))
                    .toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook runs anyway
        }
        try {
            Files.deleteIfExists(logFile);
        } catch (IOException e) {
            log.debug("cannot delete {}", logFile, e);
        }
        log.info("Apicurio Registry on {} stopped", baseUrl);
    }

    private static Properties buildInfo() {
        Properties props = new Properties();
        try (InputStream in = EmbeddedRegistry.class.getResourceAsStream("registry.properties")) {
            if (in == null) {
                throw new IllegalStateException("registry.properties missing from the editstream-embedded jar");
            }
            props.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return props;
    }

    private static String version() {
        return buildInfo().getProperty("registry.version");
    }

    private static String runnerJarName() {
        return "apicurio-registry-app-" + version() + "-runner.jar";
    }

    private static Path unpackedServer() {
        Path archive = Path.of(System.getProperty("editstream.registry.archive", buildInfo().getProperty("registry.archive")));
        if (!Files.isRegularFile(archive)) {
            throw new IllegalStateException("Apicurio Registry archive not found at " + archive
                    + ": build the project with Maven (it resolves io.apicurio:apicurio-registry-app:" + version()
                    + ":zip:all) or set -Deditstream.registry.archive=PATH");
        }
        Path root = Path.of(System.getProperty("editstream.registry.home", System.getProperty("java.io.tmpdir")));
        Path home = root.resolve("editstream-apicurio-registry-" + version());
        if (Files.isRegularFile(home.resolve(runnerJarName()))) {
            return home;
        }
        log.info("unpacking {} into {}", archive, home);
        Path partial;
        try {
            Files.createDirectories(root);
            partial = Files.createTempDirectory(root, "editstream-apicurio-partial-");
            unzip(archive, partial);
            try {
                Files.move(partial, home, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                // another process unpacked it first: use theirs
                EmbeddedKafka.deleteRecursively(partial);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IllegalStateException("cannot move the unpacked registry into place", e);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack " + archive, e);
        }
        if (!Files.isRegularFile(home.resolve(runnerJarName()))) {
            throw new IllegalStateException(archive + " does not contain " + runnerJarName());
        }
        return home;
    }

    private static void unzip(Path archive, Path target) throws IOException {
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(archive))) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                Path out = target.resolve(entry.getName()).normalize();
                if (!out.startsWith(target)) {
                    throw new IOException("archive entry escapes the target directory: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(out);
                } else {
                    Files.createDirectories(out.getParent());
                    Files.copy(zip, out, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
