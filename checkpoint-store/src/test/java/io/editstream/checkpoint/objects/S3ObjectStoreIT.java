package io.editstream.checkpoint.objects;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.editstream.embedded.EmbeddedS3;
import io.editstream.checkpoint.objects.ObjectStore.StoredObject;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The contract against a real S3 API server on 127.0.0.1; each test works under a key prefix of its own. */
class S3ObjectStoreIT extends ObjectStoreContract {

    private static final AtomicInteger TESTS = new AtomicInteger();

    private static EmbeddedS3 s3;
    private static AwsCredentialsProvider credentials;

    @BeforeAll
    static void startServer() {
        s3 = EmbeddedS3.start();
        credentials = StaticCredentialsProvider.create(AwsBasicCredentials.create(s3.accessKey(), s3.secretKey()));
    }

    @AfterAll
    static void stopServer() {
        if (s3 != null) {
            s3.close();
        }
    }

    @Override
    protected ObjectStore newStore() {
        return new S3ObjectStore(location("test-" + TESTS.incrementAndGet() + "/"), credentials);
    }

    /**
     * A TCP relay to the S3 server that loses the first response it carries, hanging up on both sides as a network
     * that fails after the server acted would, and relays everything else.
     */
    private static final class ResponseDroppingRelay implements AutoCloseable {
        private final URI upstream;
        private final ServerSocket listener;
        private final ExecutorService threads = Executors.newCachedThreadPool();
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private final AtomicBoolean dropNext = new AtomicBoolean(true);
        private final AtomicBoolean dropped = new AtomicBoolean();

        ResponseDroppingRelay(URI upstream) throws IOException {
            this.upstream = upstream;
            this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            threads.execute(this::accept);
        }

        URI endpoint() {
            return URI.create("http://127.0.0.1:" + listener.getLocalPort());
        }

        boolean dropped() {
            return dropped.get();
        }

        private void accept() {
            while (!listener.isClosed()) {
                try {
                    Socket client = listener.accept();
                    sockets.add(client);
                    Socket server = new Socket(upstream.getHost(), upstream.getPort());
                    sockets.add(server);
                    boolean drop = dropNext.getAndSet(false);
                    threads.execute(() -> pump(client, server, false));
                    threads.execute(() -> pump(server, client, drop));
                } catch (IOException e) {
                    return; // closed
                }
            }
        }

        private void pump(Socket from, Socket to, boolean loseFirstBytes) {
            byte[] buffer = new byte[8192];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    if (loseFirstBytes) {
                        dropped.set(true);
                        return;
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // one side hung up: hang up the other
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            sockets.forEach(ResponseDroppingRelay::closeQuietly);
            threads.shutdownNow();
            try {
                assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS), "relay threads still running");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private static void closeQuietly(Socket socket) {
            try {
                socket.close();
            } catch (IOException e) {
                // already broken: nothing left to release
            }
        }
    }

    private static S3ObjectStore.Location location(String prefix) {
        return new S3ObjectStore.Location(s3.bucket(), prefix, URI.create(s3.endpoint()), s3.region());
    }

    @Test
    void objectsLiveUnderTheKeyPrefixInTheBucket() throws IOException {
        store.put("a/b.json", utf8("{}"));
        String prefix = ((S3ObjectStore) store).location().prefix();
        assertEquals("s3://" + s3.bucket() + "/" + prefix + "a/b.json", store.uri("a/b.json"));
        // the server keeps the object under bucket/prefix/key: the prefix is really part of the S3 key
        try (ObjectStore whole = new S3ObjectStore(location(""), credentials)) {
            assertArrayEquals(utf8("{}"), whole.get(prefix + "a/b.json").orElseThrow());
            assertEquals(List.of(prefix + "a/b.json"),
                    whole.list(prefix).stream().map(StoredObject::key).toList());
        }
    }

    @Test
    void theFactoryOpensTheEmbeddedServersUri() throws IOException {
        try (ObjectStore opened = ObjectStores.open(s3.uri(), credentials)) {
            assertInstanceOf(S3ObjectStore.class, opened);
            assertTrue(opened.putIfAbsent("factory/probe", utf8("probe")));
            assertArrayEquals(utf8("probe"), opened.get("factory/probe").orElseThrow());
            opened.delete("factory/probe");
        }
    }

    @Test
    void aWrongSecretKeyFailsWithAClearIOException() throws IOException {
        var wrong = StaticCredentialsProvider.create(AwsBasicCredentials.create(s3.accessKey(), "not-the-secret"));
        try (ObjectStore denied = new S3ObjectStore(location("denied/"), wrong)) {
            IOException get = assertThrows(IOException.class, () -> denied.get("k"));
            assertTrue(get.getMessage().contains("HTTP 403"), get.getMessage());
            assertTrue(get.getMessage().contains("s3://" + s3.bucket() + "/denied/k"), get.getMessage());
            assertTrue(get.getMessage().contains(s3.endpoint()), get.getMessage());
            // a refused conditional PUT is an error, never "already there"
            IOException put = assertThrows(IOException.class, () -> denied.putIfAbsent("k", utf8("x")));
            assertTrue(put.getMessage().contains("HTTP 403"), put.getMessage());
            assertThrows(IOException.class, () -> denied.list(""));
        }
    }

    @Test
    void aMissingBucketIsAnErrorNotAMissingObject() throws IOException {
        var location = new S3ObjectStore.Location("no-such-bucket", "", URI.create(s3.endpoint()), s3.region());
        try (ObjectStore missing = new S3ObjectStore(location, credentials)) {
            IOException e = assertThrows(IOException.class, () -> missing.get("k"));
            assertTrue(e.getMessage().contains("404"), e.getMessage());
        }
    }

    @Test
    void aCreateWhoseResponseIsLostStillCountsAsThisCalls() throws IOException {
        try (ResponseDroppingRelay relay = new ResponseDroppingRelay(URI.create(s3.endpoint()));
             ObjectStore viaRelay = new S3ObjectStore(new S3ObjectStore.Location(s3.bucket(), "lost-response/",
                     relay.endpoint(), s3.region()), credentials)) {
            // the server creates the object, the relay loses the answer, the client's retry meets the object: 412
            assertTrue(viaRelay.putIfAbsent("k", utf8("mine")));
            assertTrue(relay.dropped(), "the relay did not drop a response, so the test proved nothing");
            assertArrayEquals(utf8("mine"), viaRelay.get("k").orElseThrow());
            assertFalse(viaRelay.putIfAbsent("k", utf8("someone else's")));
        }
    }

    @Test
    void theServerKeepsObjectsAsFilesUnderItsDirectory() throws IOException {
        store.put("on-disk", utf8("bytes"));
        String prefix = ((S3ObjectStore) store).location().prefix();
        Path file = s3.directory().resolve(s3.bucket()).resolve(prefix + "on-disk");
        assertArrayEquals(utf8("bytes"), Files.readAllBytes(file));
    }
}
