package io.editstream.checkpoint.objects;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Objects in a bucket of S3 or an S3-compatible service (path-style requests, so any endpoint works), under a key
 * prefix. A PUT on S3 is atomic (a reader sees the old object or the new one), so {@link #put} is one request;
 * {@link #putIfAbsent} is a conditional PUT ({@code If-None-Match: *}) that the service itself resolves, so of two
 * writers exactly one creates the object whatever runs in between.
 *
 * <p>A conditional PUT over a network has one ambiguous answer of its own: when the response to a PUT that did
 * create the object is lost, the SDK retries it and the retry meets the object, 412. So that this call does not then
 * answer false for an object it created, each conditional PUT carries a random token as user metadata, and a 412 is
 * followed by a HEAD that tells this call's object from another writer's. A 409 (S3's ConditionalRequestConflict:
 * another write of the key was in flight) is asked again until the service gives a definite answer.
 */
public final class S3ObjectStore implements ObjectStore {
    private static final Logger log = LoggerFactory.getLogger(S3ObjectStore.class);

    /** User metadata naming the putIfAbsent call that wrote an object (x-amz-meta-editstream-write-token). */
    static final String WRITE_TOKEN = "editstream-write-token";
    /** Conditional PUTs one putIfAbsent makes before giving up: 409 means "try again", not "exists". */
    private static final int CONFLICT_ATTEMPTS = 5;
    private static final Duration CONFLICT_BACKOFF = Duration.ofMillis(50);

    private final Location location;
    private final S3Client s3;
    private final AutoCloseable ownedCredentials;

    /**
     * Where the objects are: a bucket, a key prefix inside it ({@code ""} or segments ending in '/'), the service
     * endpoint ({@code null} for AWS's own, chosen by region) and the region requests are signed for.
     */
    public record Location(String bucket, String prefix, URI endpoint, String region) implements ObjectStores.Target {
        // S3's naming rule for buckets; the periods of legacy names are allowed, path-style requests need no DNS
        private static final Pattern BUCKET = Pattern.compile("(?!.*\\.\\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
        private static final Pattern REGION = Pattern.compile("[a-z0-9]+(?:-[a-z0-9]+)*");

        public Location {
            if (bucket == null || !BUCKET.matcher(bucket).matches()) {
                throw new IllegalArgumentException("not an S3 bucket name: '" + bucket + "'");
            }
            ObjectStore.checkPrefix(prefix);
            if (endpoint != null && (endpoint.getHost() == null
                    || !("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))
                    || endpoint.getRawQuery() != null || endpoint.getRawFragment() != null)) {
                throw new IllegalArgumentException("an S3 endpoint is http(s)://HOST[:PORT], not '" + endpoint + "'");
            }
            if (region == null || !REGION.matcher(region).matches()) {
                throw new IllegalArgumentException("not a region: '" + region + "'");
            }
        }

        /** {@code s3://bucket/prefix/key}: how the key is named outside this process (no endpoint, no credentials). */
        public String uri(String key) {
            return "s3://" + bucket + "/" + prefix + key;
        }
    }

    /**
     * A store that signs requests with {@code credentials}. The caller keeps ownership of the provider: closing
     * the store does not close it.
     */
    public S3ObjectStore(Location location, AwsCredentialsProvider credentials) {
        this(location, credentials, null);
    }

    private S3ObjectStore(Location location, AwsCredentialsProvider credentials, AutoCloseable ownedCredentials) {
        this.location = location;
        this.ownedCredentials = ownedCredentials;
        S3ClientBuilder builder = S3Client.builder()
                // built by the client from this builder, so closing the client closes it
                .httpClientBuilder(Apache5HttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(Duration.ofSeconds(60)))
                .region(Region.of(location.region()))
                .credentialsProvider(credentials)
                .forcePathStyle(true);
        if (location.endpoint() != null) {
            builder.endpointOverride(location.endpoint());
        }
        this.s3 = builder.build();
    }

    /**
     * A store with the SDK's default credentials chain: the {@code aws.accessKeyId} / {@code aws.secretAccessKey}
     * system properties, the {@code AWS_ACCESS_KEY_ID} / {@code AWS_SECRET_ACCESS_KEY} environment variables, the
     * profile files, then container and instance roles. The store owns that chain and closes it.
     */
    public static S3ObjectStore withDefaultCredentials(Location location) {
        DefaultCredentialsProvider credentials = DefaultCredentialsProvider.builder().build();
        try {
            return new S3ObjectStore(location, credentials, credentials);
        } catch (RuntimeException | Error e) {
            credentials.close();
            throw e;
        }
    }

    public Location location() {
        return location;
    }

    @Override
    public boolean putIfAbsent(String key, byte[] bytes) throws IOException {
        String token = UUID.randomUUID().toString();
        PutObjectRequest request = PutObjectRequest.builder()
                .bucket(location.bucket())
                .key(objectKey(key))
                .ifNoneMatch("*")
                .metadata(Map.of(WRITE_TOKEN, token))
                .build();
        for (int attempt = 1; ; attempt++) {
            try {
                s3.putObject(request, RequestBody.fromBytes(bytes));
                return true;
            } catch (AwsServiceException e) {
                if (e.statusCode() == 412) {
                    Optional<String> writer = writeToken(key);
                    if (writer.isPresent()) {
                        return writer.get().equals(token);
                    }
                    // deleted between the 412 and the HEAD: the key is free again
                } else if (e.statusCode() != 409) {
                    throw failure("conditional PUT", key, e);
                }
                // the key changed under this call (a 409 says another write of it was in flight): whatever it settled
                // on decides the answer, so ask again
                if (attempt == CONFLICT_ATTEMPTS) {
                    throw failure("conditional PUT (" + attempt + " attempts, the key kept changing)", key, e);
                }
                log.debug("conditional PUT of {} met a concurrent write (attempt {}), asking again", uri(key), attempt);
                pause(CONFLICT_BACKOFF.multipliedBy(attempt), key);
            } catch (SdkException e) {
                throw failure("conditional PUT", key, e);
            }
        }
    }

    /**
     * The write token of the object under {@code key} ({@code ""} for an object that {@link #put} wrote), or empty
     * when there is none.
     */
    private Optional<String> writeToken(String key) throws IOException {
        try {
            HeadObjectResponse head = s3.headObject(b -> b.bucket(location.bucket()).key(objectKey(key)));
            return Optional.of(head.metadata().getOrDefault(WRITE_TOKEN, ""));
        } catch (NoSuchKeyException e) {
            // HEAD has no body to tell a missing key from a missing bucket, but the PUT just met this bucket
            return Optional.empty();
        } catch (SdkException e) {
            throw failure("HEAD", key, e);
        }
    }

    @Override
    public void put(String key, byte[] bytes) throws IOException {
        try {
            s3.putObject(b -> b.bucket(location.bucket()).key(objectKey(key)), RequestBody.fromBytes(bytes));
        } catch (SdkException e) {
            throw failure("PUT", key, e);
        }
    }

    @Override
    public Optional<byte[]> get(String key) throws IOException {
        try {
            return Optional.of(s3.getObjectAsBytes(b -> b.bucket(location.bucket()).key(objectKey(key)))
                    .asByteArrayUnsafe());
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (SdkException e) {
            // a missing bucket is also a 404, and must not read as a missing object
            throw failure("GET", key, e);
        }
    }

    @Override
    public Optional<Reading> open(String key) throws IOException {
        try {
            ResponseInputStream<GetObjectResponse> content = s3.getObject(b -> b.bucket(location.bucket()).key(objectKey(key)));
            return Optional.of(new Reading(content.response().contentLength(), content));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (SdkException e) {
            throw failure("GET", key, e);
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        String fullPrefix = location.prefix() + ObjectStore.checkPrefix(prefix);
        List<StoredObject> objects = new ArrayList<>();
        try {
            for (S3Object object : s3.listObjectsV2Paginator(b -> b.bucket(location.bucket()).prefix(fullPrefix))
                    .contents()) {
                String key = object.key().substring(location.prefix().length());
                // what another tool left under the prefix (a console's "folder/" marker, say) is not ours to name
                if (!ObjectStore.KEY.matcher(key).matches()) {
                    log.debug("ignoring {} in the listing of {}: not an object key", object.key(),
                            location.uri(prefix));
                    continue;
                }
                objects.add(new StoredObject(key, object.size(), object.lastModified()));
            }
        } catch (SdkException e) {
            throw failure("LIST", prefix, e);
        }
        // S3 lists in UTF-8 byte order, which for these ASCII keys is String order; some S3-compatible services
        // order otherwise, and the contract is key order
        objects.sort(Comparator.comparing(StoredObject::key));
        return objects;
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(location.bucket()).key(objectKey(key)));
        } catch (NoSuchKeyException e) {
            // S3 answers 204 for a missing key; a service that answers 404 means the same
        } catch (SdkException e) {
            throw failure("DELETE", key, e);
        }
    }

    @Override
    public String uri(String key) {
        return location.uri(ObjectStore.checkKey(key));
    }

    @Override
    public void close() throws IOException {
        try {
            s3.close();
        } finally {
            if (ownedCredentials != null) {
                try {
                    ownedCredentials.close();
                } catch (Exception e) {
                    log.warn("cannot close the credentials provider of {}", location.uri(""), e);
                }
            }
        }
    }

    private String objectKey(String key) {
        return location.prefix() + ObjectStore.checkKey(key);
    }

    private IOException failure(String operation, String key, SdkException e) {
        StringBuilder message = new StringBuilder("S3 ").append(operation).append(' ').append(location.uri(key));
        if (location.endpoint() != null) {
            message.append(" at ").append(location.endpoint());
        }
        message.append(" failed: ");
        if (e instanceof AwsServiceException service) {
            AwsErrorDetails details = service.awsErrorDetails();
            message.append("HTTP ").append(service.statusCode());
            if (details != null && details.errorCode() != null) {
                message.append(' ').append(details.errorCode());
            }
            if (details != null && details.errorMessage() != null) {
                message.append(": ").append(details.errorMessage());
            }
        } else {
            message.append(e.getMessage());
        }
        return new IOException(message.toString(), e);
    }

    private void pause(Duration duration, String key) throws InterruptedIOException {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            var interrupted = new InterruptedIOException("interrupted while asking again to create " + uri(key));
            interrupted.initCause(e);
            throw interrupted;
        }
    }
}
