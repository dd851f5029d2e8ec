package io.editstream.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import io.editstream.events.SerdeSettings;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The {@code --registry} of a command: an Apicurio Registry, given as its base URL ({@code http://host:port}) or
 * its v3 API URL ({@code http://host:port/apis/registry/v3}).
 *
 * @param apiUrl the v3 API URL, without a trailing slash
 */
record SchemaRegistry(String apiUrl) {
    private static final String API_PATH = "/apis/registry/v3";

    SerdeSettings serdeSettings() {
        return SerdeSettings.apicurio(apiUrl);
    }

    /** Fails with a {@link CommandFailure} unless the registry answers its info endpoint within {@code timeout}. */
    void requireReachable(Duration timeout) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(timeout).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(apiUrl + "/system/info")).timeout(timeout).GET().build();
        HttpResponse<Void> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            throw new CommandFailure("cannot reach the schema registry at " + apiUrl + ": "
                    + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while connecting to the schema registry at " + apiUrl, e);
        }
        if (response.statusCode() != 200) {
            throw new CommandFailure("the schema registry at " + apiUrl + " answered HTTP " + response.statusCode()
                    + " to " + API_PATH + "/system/info: is it an Apicurio Registry 3.x?");
        }
    }

    /** Parses {@code --registry}, appending the API path to a base URL. */
    static final class Converter implements ITypeConverter<SchemaRegistry> {
        @Override
        public SchemaRegistry convert(String value) {
            URI uri;
            try {
                uri = new URI(value.strip());
            } catch (URISyntaxException e) {
                throw new TypeConversionException("'" + value + "' is not a URL: " + e.getReason());
            }
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
                throw new TypeConversionException("'" + value + "' is not an http(s)://host:port URL");
            }
            String path = uri.getPath() == null ? "" : uri.getPath().replaceAll("/+$", "");
            if (!path.isEmpty() && !path.equals(API_PATH)) {
                throw new TypeConversionException("'" + value + "' has the path '" + path + "': give the registry's base"
                        + " URL (http://host:port) or its " + API_PATH + " URL");
            }
            String base = uri.getScheme() + "://" + uri.getRawAuthority();
            return new SchemaRegistry(base + API_PATH);
        }
    }
}
