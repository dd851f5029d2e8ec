package io.editstream.checkpoint.objects;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;

/**
 * Opens an {@link ObjectStore} from the string a user or a configuration file names it by:
 * <ul>
 *   <li>a path ({@code checkpoints}, {@code /var/lib/editstream}) or a {@code file:} URI: a
 *       {@link FileSystemObjectStore} rooted there;</li>
 *   <li>{@code s3://BUCKET[/PREFIX][?endpoint=http://HOST:PORT][&region=REGION]}: an {@link S3ObjectStore} on that
 *       bucket, under that key prefix, at that endpoint (default: AWS's own for the region), signing for that region
 *       (default {@value #DEFAULT_REGION}).</li>
 * </ul>
 * Credentials never travel in the URI, where they would end up in logs, shell history and process listings: they
 * come from the SDK's default chain ({@code AWS_ACCESS_KEY_ID} / {@code AWS_SECRET_ACCESS_KEY}, the
 * {@code aws.accessKeyId} / {@code aws.secretAccessKey} system properties, profiles, roles) or from the provider
 * passed to {@link #open(String, AwsCredentialsProvider)}.
 */
public final class ObjectStores {

    public static final String DEFAULT_REGION = "us-east-1";

    private static final Pattern SCHEME = Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*):.*", Pattern.DOTALL);
    private static final Set<String> S3_PARAMETERS = Set.of("endpoint", "region");
    private static final Set<String> CREDENTIAL_PARAMETERS = Set.of("access_key", "secret_key", "accesskey",
            "secretkey", "access_key_id", "secret_access_key", "accesskeyid", "secretaccesskey", "session_token",
            "sessiontoken", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "password", "secret");

    private ObjectStores() {
    }

    /** What a store URI names, before anything is opened. */
    public sealed interface Target permits FileSystemTarget, S3ObjectStore.Location {
    }

    /** A directory on the local file system. */
    public record FileSystemTarget(Path root) implements Target {
    }

    /** Opens the store {@code uri} names; an S3 store signs with the SDK's default credentials chain. */
    public static ObjectStore open(String uri) throws IOException {
        Target target = parse(uri);
        if (target instanceof S3ObjectStore.Location s3) {
            return S3ObjectStore.withDefaultCredentials(s3);
        }
        return new FileSystemObjectStore(((FileSystemTarget) target).root());
    }

    /** As {@link #open(String)}, an S3 store signing with {@code credentials} (which the caller keeps and closes). */
    public static ObjectStore open(String uri, AwsCredentialsProvider credentials) throws IOException {
        Target target = parse(uri);
        if (target instanceof S3ObjectStore.Location s3) {
            return new S3ObjectStore(s3, credentials);
        }
        return new FileSystemObjectStore(((FileSystemTarget) target).root());
    }

    /**
     * Reads a store URI.
     *
     * @throws IllegalArgumentException for anything but a path, a {@code file:} URI or a well-formed {@code s3:} URI
     */
    public static Target parse(String uri) {
        if (uri == null || uri.isBlank()) {
            throw new IllegalArgumentException("no object store given: expected a path, file:///PATH or s3://BUCKET");
        }
        var scheme = SCHEME.matcher(uri);
        // "checkpoints:v2" is a relative path, not a URI: only a scheme followed by '/' (or file:) reads as one
        boolean isUri = scheme.matches()
                && (uri.startsWith(scheme.group(1) + ":/") || uri.regionMatches(true, 0, "file:", 0, 5));
        if (!isUri) {
            try {
                return new FileSystemTarget(Path.of(uri));
            } catch (InvalidPathException e) {
                throw new IllegalArgumentException("not a usable path for an object store: '" + uri + "'", e);
            }
        }
        return switch (scheme.group(1).toLowerCase(Locale.ROOT)) {
            case "file" -> fileTarget(uri);
            case "s3" -> s3Location(uri);
            default -> throw new IllegalArgumentException("unsupported object store '" + uri
                    + "': expected a path, file:///PATH or s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION]");
        };
    }

    private static FileSystemTarget fileTarget(String uri) {
        try {
            return new FileSystemTarget(Path.of(new URI(uri)));
        } catch (URISyntaxException | IllegalArgumentException | FileSystemNotFoundException e) {
            throw new IllegalArgumentException("not an absolute file URI: '" + uri + "' (expected file:///PATH)", e);
        }
    }

    private static S3ObjectStore.Location s3Location(String uri) {
        refuseCredentials(uri);
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a valid s3 URI: '" + uri + "': " + e.getReason(), e);
        }
        String bucket = parsed.getRawAuthority();
        if (bucket == null || bucket.isEmpty()) {
            throw new IllegalArgumentException("no bucket in '" + uri + "' (expected s3://BUCKET[/PREFIX])");
        }
        if (bucket.contains(":")) {
            throw new IllegalArgumentException("an s3 URI names a bucket, not a host and port: '" + uri + "'");
        }
        if (parsed.getRawFragment() != null) {
            throw new IllegalArgumentException("an s3 URI has no fragment: '" + uri + "'");
        }
        String path = parsed.getRawPath() == null ? "" : parsed.getRawPath();
        String prefix = path.isEmpty() || path.equals("/") ? "" : path.substring(1);
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix += "/";
        }
        Map<String, String> parameters = parameters(parsed.getRawQuery(), uri);
        String endpoint = parameters.get("endpoint");
        URI endpointUri;
        try {
            endpointUri = endpoint == null ? null : new URI(endpoint);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a valid endpoint in '" + uri + "': " + e.getReason(), e);
        }
        try {
            return new S3ObjectStore.Location(bucket, prefix, endpointUri,
                    parameters.getOrDefault("region", DEFAULT_REGION));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid s3 URI '" + uri + "': " + e.getMessage(), e);
        }
    }

    /**
     * Refuses a URI that carries credentials, before any other message could quote them: as user info
     * ({@code s3://KEY:SECRET@bucket}) or as a query parameter.
     */
    private static void refuseCredentials(String uri) {
        int authorityStart = "s3://".length();
        int authorityEnd = indexOfAny(uri, "/?#", authorityStart);
        boolean userInfo = uri.substring(Math.min(authorityStart, uri.length()), authorityEnd).contains("@");
        int query = uri.indexOf('?');
        boolean parameter = false;
        if (query >= 0) {
            for (String pair : uri.substring(query + 1).split("[&#]")) {
                int equals = pair.indexOf('=');
                String name = decode(equals < 0 ? pair : pair.substring(0, equals));
                parameter |= CREDENTIAL_PARAMETERS.contains(name.toLowerCase(Locale.ROOT).replace('-', '_'));
            }
        }
        if (userInfo || parameter) {
            throw new IllegalArgumentException("credentials do not go in an object store URI, where logs and process"
                    + " listings would show them: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the"
                    + " aws.accessKeyId and aws.secretAccessKey system properties) instead");
        }
    }

    private static String decode(String component) {
        try {
            return URLDecoder.decode(component, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed %-escape in an object store URI's query", e);
        }
    }

    private static int indexOfAny(String s, String characters, int from) {
        for (int i = from; i < s.length(); i++) {
            if (characters.indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return s.length();
    }

    private static Map<String, String> parameters(String rawQuery, String uri) {
        Map<String, String> parameters = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return parameters;
        }
        for (String pair : rawQuery.split("&", -1)) {
            int equals = pair.indexOf('=');
            String name = decode(equals < 0 ? pair : pair.substring(0, equals));
            String value = equals < 0 ? "" : decode(pair.substring(equals + 1));
            if (!S3_PARAMETERS.contains(name)) {
                throw new IllegalArgumentException("unknown parameter '" + name + "' in '" + uri
                        + "' (known: endpoint, region)");
            }
            if (value.isEmpty()) {
                throw new IllegalArgumentException("empty parameter '" + name + "' in '" + uri + "'");
            }
            if (parameters.put(name, value) != null) {
                throw new IllegalArgumentException("parameter '" + name + "' given twice in '" + uri + "'");
            }
        }
        return parameters;
    }
}
