package io.editstream.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedS3IT {

    @Test
    void servesOnLoopbackRefusesUnsignedRequestsAndStopsOnClose() throws Exception {
        String endpoint;
        Path directory;
        try (EmbeddedS3 s3 = EmbeddedS3.start()) {
            endpoint = s3.endpoint();
            directory = s3.directory();
            assertTrue(endpoint.startsWith("http://127.0.0.1:"), endpoint);
            assertEquals("s3://" + EmbeddedS3.DEFAULT_BUCKET + "?endpoint=" + endpoint + "&region=us-east-1", s3.uri());
            assertTrue(Files.isDirectory(directory.resolve(s3.bucket())), "bucket directory");

            // the identity is enforced: a request without a signature is turned away
            HttpResponse<String> anonymous = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(endpoint + "/" + s3.bucket() + "/k"))
                            .PUT(HttpRequest.BodyPublishers.ofString("x")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(403, anonymous.statusCode(), anonymous.body());
            assertTrue(anonymous.body().contains("AccessDenied"), anonymous.body());
            assertFalse(Files.exists(directory.resolve(s3.bucket()).resolve("k")));
        }
        assertFalse(listening(endpoint), "still listening after close");
        assertFalse(Files.exists(directory), "temporary directory left behind");
    }

    @Test
    void aGivenDirectoryIsKeptAndReusedWithItsBucket(@TempDir Path dir) throws IOException {
        Path objects = dir.resolve("objects");
        try (EmbeddedS3 s3 = EmbeddedS3.start(objects, "checkpoints")) {
            assertEquals("checkpoints", s3.bucket());
            Files.writeString(objects.resolve("checkpoints").resolve("left-over"), "x");
        }
        assertTrue(Files.exists(objects.resolve("checkpoints").resolve("left-over")));
        try (EmbeddedS3 again = EmbeddedS3.start(objects, "checkpoints")) {
            assertEquals(objects.toRealPath(), again.directory());
            assertTrue(Files.exists(objects.resolve("checkpoints").resolve("left-over")));
        }
    }

    @Test
    void aBadBucketNameIsRefusedBeforeAnythingStarts(@TempDir Path dir) {
        assertThrows(IllegalArgumentException.class, () -> EmbeddedS3.start(dir, "Not_A_Bucket"));
    }

    private static boolean listening(String endpoint) {
        URI uri = URI.create(endpoint);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
