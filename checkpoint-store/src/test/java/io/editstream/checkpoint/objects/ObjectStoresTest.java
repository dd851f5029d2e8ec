package io.editstream.checkpoint.objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

class ObjectStoresTest {

    @Test
    void aPathOrFileUriIsTheFileSystem() {
        assertEquals(new ObjectStores.FileSystemTarget(Path.of("checkpoints")), ObjectStores.parse("checkpoints"));
        assertEquals(new ObjectStores.FileSystemTarget(Path.of("/var/lib/editstream")),
                ObjectStores.parse("/var/lib/editstream"));
        assertEquals(new ObjectStores.FileSystemTarget(Path.of("/var/lib/editstream")),
                ObjectStores.parse("file:///var/lib/editstream"));
        assertEquals(new ObjectStores.FileSystemTarget(Path.of("/tmp/with space")),
                ObjectStores.parse("file:///tmp/with%20space"));
        // a colon without "//" after it is part of a file name, not a scheme
        assertEquals(new ObjectStores.FileSystemTarget(Path.of("run:2")), ObjectStores.parse("run:2"));
    }

    @Test
    void anS3UriNamesBucketPrefixEndpointAndRegion() {
        S3ObjectStore.Location location =
                s3("s3://ckpt-bucket/team/models?endpoint=http://127.0.0.1:9000&region=eu-west-3");
        assertEquals("ckpt-bucket", location.bucket());
        assertEquals("team/models/", location.prefix());
        assertEquals(URI.create("http://127.0.0.1:9000"), location.endpoint());
        assertEquals("eu-west-3", location.region());
        assertEquals("s3://ckpt-bucket/team/models/a/b.json", location.uri("a/b.json"));
    }

    @Test
    void anS3UriDefaultsToNoPrefixAwsEndpointAndUsEast1() {
        S3ObjectStore.Location location = s3("s3://ckpt-bucket");
        assertEquals("", location.prefix());
        assertNull(location.endpoint());
        assertEquals("us-east-1", location.region());
        assertEquals("", s3("s3://ckpt-bucket/").prefix());
        assertEquals("p/", s3("s3://ckpt-bucket/p/").prefix());
        assertEquals(URI.create("https://s3.example.com:8443"),
                s3("s3://ckpt-bucket?endpoint=https%3A%2F%2Fs3.example.com%3A8443").endpoint());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "s3://bucket?access_key=AKIA&secret_key=shh",
        "s3://bucket?endpoint=http://h:1&aws_secret_access_key=shh",
        "s3://bucket?Secret-Key=shh",
        "s3://AKIA:shh@bucket/prefix",
    })
    void credentialsInTheUriAreRefusedWithoutBeingQuoted(String uri) {
        var e = assertThrows(IllegalArgumentException.class, () -> ObjectStores.parse(uri));
        assertTrue(e.getMessage().contains("AWS_ACCESS_KEY_ID"), e.getMessage());
        assertFalse(e.getMessage().contains("shh"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", " ", "gs://bucket", "http://127.0.0.1:9000/bucket", "s3://", "s3:///prefix", "s3://Upper_Case",
        "s3://ab", "s3://bucket:9000", "s3://bucket/../escape", "s3://bucket/a//b", "s3://bucket/a/./b",
        "s3://bucket?endpoint=ftp://host", "s3://bucket?endpoint=http://host/?x=1", "s3://bucket?endpoint=",
        "s3://bucket?region=", "s3://bucket?region=EU West", "s3://bucket?colour=blue",
        "s3://bucket?region=us-east-1&region=eu-west-1", "s3://bucket#fragment", "s3://bucket?endpoint=%zz",
        "file:relative/path",
    })
    void anythingElseIsAClearIllegalArgument(String uri) {
        var e = assertThrows(IllegalArgumentException.class, () -> ObjectStores.parse(uri));
        assertFalse(e.getMessage().isBlank());
    }

    @Test
    void nullIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ObjectStores.parse(null));
    }

    @Test
    void openBuildsTheNamedBackendWithoutContactingIt(@TempDir Path dir) throws IOException {
        try (ObjectStore files = ObjectStores.open(dir.resolve("store").toString())) {
            assertInstanceOf(FileSystemObjectStore.class, files);
            assertEquals(dir.resolve("store").toRealPath(), ((FileSystemObjectStore) files).root());
        }
        try (ObjectStore files = ObjectStores.open(dir.resolve("other").toUri().toString())) {
            assertInstanceOf(FileSystemObjectStore.class, files);
        }
        var credentials = StaticCredentialsProvider.create(AwsBasicCredentials.create("id", "secret"));
        try (ObjectStore s3 = ObjectStores.open("s3://ckpt-bucket/p?endpoint=http://127.0.0.1:1", credentials)) {
            assertInstanceOf(S3ObjectStore.class, s3);
            assertEquals("s3://ckpt-bucket/p/k", s3.uri("k"));
        }
        try (ObjectStore s3 = ObjectStores.open("s3://ckpt-bucket?endpoint=http://127.0.0.1:1")) {
            assertInstanceOf(S3ObjectStore.class, s3);
        }
    }

    private static S3ObjectStore.Location s3(String uri) {
        return assertInstanceOf(S3ObjectStore.Location.class, ObjectStores.parse(uri));
    }
}
