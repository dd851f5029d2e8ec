package io.editstream.checkpoint;

import io.editstream.checkpoint.objects.ObjectStore;
import io.editstream.checkpoint.objects.S3ObjectStore;
import io.editstream.embedded.EmbeddedS3;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The checkpoint-store contract on a real S3 API server (s3proxy) on 127.0.0.1; each test under a prefix of its own. */
class S3CheckpointStoreIT extends CheckpointStoreContract {

    private static final AtomicInteger TESTS = new AtomicInteger();
    private static EmbeddedS3 s3;

    @BeforeAll
    static void startServer() {
        s3 = EmbeddedS3.start();
    }

    @AfterAll
    static void stopServer() {
        if (s3 != null) {
            s3.close();
        }
    }

    @Override
    ObjectStore newObjectStore() {
        return new S3ObjectStore(new S3ObjectStore.Location(s3.bucket(), "checkpoints-" + TESTS.incrementAndGet() + "/",
                URI.create(s3.endpoint()), s3.region()),
                StaticCredentialsProvider.create(AwsBasicCredentials.create(s3.accessKey(), s3.secretKey())));
    }
}
