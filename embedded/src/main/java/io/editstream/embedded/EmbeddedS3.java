package io.editstream.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.regex.Pattern;

import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real S3 API server (S3Proxy, from Maven Central) running in this JVM on 127.0.0.1, keeping objects as files under
 * a directory (S3Proxy's filesystem-nio2 store), with one bucket created at start.
 *
 * <p>Every request must carry a valid AWS signature (V2 or V4) made with the access key and secret key invented at
 * start, so clients exercise the same signing path as against a real service, and a wrong key fails as it would
 * there. The filesystem-nio2 store answers {@code If-None-Match: *} on PUT by hard-linking the written file into
 * place, so of two concurrent conditional writers of one key exactly one succeeds and the other gets 412.
 */
public final class EmbeddedS3 implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedS3.class);

    /** The bucket {@link #start()} and {@link #start(Path)} create. */
    public static final String DEFAULT_BUCKET = "editstream";
    /** The region clients sign for, as {@link #uri()} says. */
    public static final String REGION = "us-east-1";

    // S3's own rule for new buckets, so that what works here also works against a real service
    private static final Pattern BUCKET = Pattern.compile("(?!.*\\.\\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(2);

    private final S3Proxy proxy;
    private final BlobStore blobStore;
    private final Path directory;
    private final boolean ownsDirectory;
    private final String bucket;
    private final String accessKey;
    private final String secretKey;
    private final String endpoint;
    private boolean closed;

    private EmbeddedS3(S3Proxy proxy, BlobStore blobStore, Path directory, boolean ownsDirectory, String bucket,
                       String accessKey, String secretKey) {
        this.proxy = proxy;
        this.blobStore = blobStore;
        this.directory = directory;
        this.ownsDirectory = ownsDirectory;
        this.bucket = bucket;
        this.accessKey = accessKey;
        this.secretKey = secretKey;
        this.endpoint = "http://127.0.0.1:" + proxy.getPort();
    }

    /** Starts a server whose objects live in a fresh temporary directory, deleted on close. */
    public static EmbeddedS3 start() {
        Path directory;
        try {
            directory = Files.createTempDirectory("editstream-s3-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the S3 server's directory", e);
        }
        try {
            return start(directory, DEFAULT_BUCKET, true);
        } catch (RuntimeException | Error e) {
            EmbeddedKafka.deleteRecursively(directory);
            throw e;
        }
    }

    /** Starts a server whose objects live under {@code directory} (created if needed, kept on close). */
    public static EmbeddedS3 start(Path directory) {
        return start(directory, DEFAULT_BUCKET);
    }

    /** As {@link #start(Path)}, with the given bucket; a bucket already in the directory keeps its objects. */
    public static EmbeddedS3 start(Path directory, String bucket) {
        return start(directory, bucket, false);
    }

    private static EmbeddedS3 start(Path directory, String bucket, boolean ownsDirectory) {
        if (!BUCKET.matcher(bucket).matches()) {
            throw new IllegalArgumentException("not an S3 bucket name: '" + bucket + "'");
        }
        Path root;
        try {
            root = Files.createDirectories(directory).toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the S3 server's directory " + directory, e);
        }
        String accessKey = "editstream-" + randomHex(8);
        String secretKey = randomHex(20);
        BlobStore blobStore = new FilesystemNio2BlobStore(root.toString());
        S3Proxy proxy = null;
        try {
            if (!blobStore.containerExists(bucket)) {
                blobStore.createContainer(bucket);
            }
            proxy = S3Proxy.builder()
                    .blobStore(blobStore)
                    // port 0: the connector binds a free port itself, so no other process can take it in between
                    .endpoint(URI.create("http://127.0.0.1:0"))
                    .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
                    // S3Proxy waits up to 30 s for requests in flight at stop, sized for a shared server; the
                    // requests of an embedded one come from the process that is closing it
                    .stopTimeout(STOP_TIMEOUT.toMillis())
                    .build();
            proxy.start();
            EmbeddedS3 s3 = new EmbeddedS3(proxy, blobStore, root, ownsDirectory, bucket, accessKey, secretKey);
            log.info("S3 server ready on {} (bucket {}, objects under {})", s3.endpoint, bucket, root);
            return s3;
        } catch (Exception e) {
            if (proxy != null) {
                stopQuietly(proxy);
            }
            blobStore.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("cannot start the S3 server on 127.0.0.1", e);
        }
    }

    /** {@code http://127.0.0.1:PORT}: the endpoint for a path-style S3 client. */
    public String endpoint() {
        return endpoint;
    }

    public String bucket() {
        return bucket;
    }

    public String region() {
        return REGION;
    }

    public String accessKey() {
        return accessKey;
    }

    public String secretKey() {
        return secretKey;
    }

    /** The directory the objects live under (each bucket a subdirectory). */
    public Path directory() {
        return directory;
    }

    /**
     * The bucket as an object-store URI, {@code s3://BUCKET?endpoint=http://127.0.0.1:PORT&region=us-east-1}. The
     * credentials are not in it: a client takes them from {@link #accessKey()} and {@link #secretKey()}.
     */
    public String uri() {
        return "s3://" + bucket + "?endpoint=" + endpoint + "&region=" + REGION;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            stopQuietly(proxy);
        } finally {
            blobStore.close();
            if (ownsDirectory) {
                EmbeddedKafka.deleteRecursively(directory);
            }
        }
        log.info("S3 server on {} stopped", endpoint);
    }

    private static void stopQuietly(S3Proxy proxy) {
        try {
            proxy.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("interrupted while stopping the S3 server", e);
        } catch (Exception e) {
            log.warn("error while stopping the S3 server", e);
        }
    }

    private static String randomHex(int bytes) {
        byte[] random = new byte[bytes];
        RANDOM.nextBytes(random);
        return HexFormat.of().formatHex(random);
    }
}
