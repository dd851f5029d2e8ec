package io.editstream.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import io.editstream.events.SerdeSettings;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The schema registry of a command: an Apicurio Registry (its base URL {@code http://host:port} or its v3 API URL
 * {@code http://host:port/apis/registry/v3}, read by Apicurio's serde), or a Confluent-compatible API (Apicurio's
 * {@code /apis/ccompat/v7}, or any registry when {@code --config} names other serde classes), read by the serde
 * {@code --config} names.
 *
 * @param url    the v3 API URL (Apicurio) or the Confluent-compatible API's URL, without a trailing slash
 * @param api    which API the URL is
 * @param config the command's --config: the serde's settings and the registry's credentials
 */
record SchemaRegistry(String url, Api api, ClientConfig config) {
    private static final String API_PATH = "/apis/registry/v3";
    private static final String CCOMPAT_PATH = "/apis/ccompat/v7";

    enum Api { APICURIO, CONFLUENT_COMPATIBLE }

    /** Checks {@code --registry} is an http(s) URL with a host (a usage error otherwise); what its path means is {@link #parse}'s. */
    static final class UrlConverter implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                URI uri = new URI(value.strip());
                if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
                    return value.strip();
                }
            } catch (URISyntaxException e) {
                throw new TypeConversionException("'" + value + "' is not a URL: " + e.getReason());
            }
            throw new TypeConversionException("'" + value + "' is not an http(s)://host:port URL");
        }
    }

    /** Parses a registry URL; a {@link CommandFailure} says what is wrong with it. */
    static SchemaRegistry parse(String value, ClientConfig config) {
        URI uri;
        try {
            uri = new URI(value.strip());
        } catch (URISyntaxException e) {
            throw new CommandFailure("registry '" + value + "' is not a URL: " + e.getReason());
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new CommandFailure("registry '" + value + "' is not an http(s)://host:port URL");
        }
        String path = uri.getPath() == null ? "" : uri.getPath().replaceAll("/+$", "");
        String base = uri.getScheme() + "://" + uri.getRawAuthority();
        boolean otherSerde = config.editstream().containsKey(ClientConfig.SERIALIZER);
        if (!otherSerde && (path.isEmpty() || path.equals(API_PATH))) {
            return new SchemaRegistry(base + API_PATH, Api.APICURIO, config);
        }
        if (!otherSerde && !path.equals(CCOMPAT_PATH)) {
            throw new CommandFailure("registry '" + value + "' has the path '" + path + "': give Apicurio's base URL (http://host:port), "
                    + "its " + API_PATH + " URL, or a Confluent-compatible API with its serde in --config");
        }
        return new SchemaRegistry(base + path, Api.CONFLUENT_COMPATIBLE, config);
    }

    /** The serde: Apicurio's with the --config's apicurio.registry.* keys, or the one --config names for a Confluent-compatible API. */
    SerdeSettings serdeSettings() {
        if (api == Api.APICURIO) {
            SerdeSettings apicurio = SerdeSettings.apicurio(url);
            Map<String, Object> merged = new HashMap<>(apicurio.config());
            merged.putAll(config.serde());
            return new SerdeSettings(apicurio.serializerClass(), apicurio.deserializerClass(), merged);
        }
        String serializer = config.editstream().get(ClientConfig.SERIALIZER);
        String deserializer = config.editstream().get(ClientConfig.DESERIALIZER);
        if (serializer == null || deserializer == null) {
            throw new CommandFailure("the registry " + url + " is a Confluent-compatible API: name a serde for it with "
                    + ClientConfig.SERIALIZER + " and " + ClientConfig.DESERIALIZER + " in --config (e.g. Confluent's KafkaAvroSerializer)");
        }
        // a Confluent-style serde reads its registry settings (basic.auth.*, ...) from the client keys
        Map<String, Object> serde = new HashMap<>(config.kafka());
        serde.putAll(config.serde());
        serde.put("schema.registry.url", url);
        return new SerdeSettings(serializer, deserializer, serde);
    }

    /** Fails with a {@link CommandFailure} unless the registry answers within {@code timeout}. */
    void requireReachable(Duration timeout) {
        String probe = api == Api.APICURIO ? url + "/system/info" : url + "/subjects";
        HttpClient http = HttpClient.newBuilder().connectTimeout(timeout).build();
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(probe)).timeout(timeout).GET();
        String user = config.serde().get(ClientConfig.USERNAME);
        if (user != null) {
            String password = config.serde().getOrDefault(ClientConfig.PASSWORD, "");
            request.header("Authorization", "Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                    .getBytes(StandardCharsets.UTF_8)));
        }
        HttpResponse<Void> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            throw new CommandFailure("cannot reach the schema registry at " + url + ": "
                    + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while connecting to the schema registry at " + url, e);
        }
        if (response.statusCode() == 401 || response.statusCode() == 403) {
            throw new CommandFailure("the schema registry at " + url + " refused the credentials (HTTP " + response.statusCode()
                    + "): set " + ClientConfig.USERNAME + " and " + ClientConfig.PASSWORD + " in --config");
        }
        if (response.statusCode() != 200) {
            throw new CommandFailure("the schema registry at " + url + " answered HTTP " + response.statusCode() + " to " + probe
                    + (api == Api.APICURIO ? ": is it an Apicurio Registry 3.x?" : ": is it a Confluent-compatible registry API?"));
        }
    }
}
