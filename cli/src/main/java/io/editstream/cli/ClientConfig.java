package io.editstream.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A command's {@code --config FILE} (Java properties), split by who reads each key:
 * <ul>
 *   <li>{@code editstream.*}: editstream's own settings (the registry URL and serde classes below, the topology's
 *       settings, see the README's table);</li>
 *   <li>{@code apicurio.registry.*}: the registry serde's own settings (e.g. {@code apicurio.registry.auth.username},
 *       {@code apicurio.registry.auth.password}), also used by the registry reachability check;</li>
 *   <li>everything else: Kafka client settings ({@code security.protocol}, {@code sasl.*}, {@code ssl.*}, ...), given to
 *       every producer, consumer, admin client and Streams app the command creates, reachability checks included.</li>
 * </ul>
 */
record ClientConfig(Map<String, String> editstream, Map<String, String> serde, Map<String, String> kafka) {
    /** The registry's URL when {@code --registry} is not given. */
    static final String REGISTRY_URL = "editstream.registry.url";
    /** The value serializer class (default Apicurio's Avro serde), e.g. Confluent's for a Confluent Schema Registry. */
    static final String SERIALIZER = "editstream.serde.serializer";
    /** The value deserializer class (default Apicurio's Avro serde). */
    static final String DESERIALIZER = "editstream.serde.deserializer";
    static final String SERDE_PREFIX = "apicurio.registry.";
    static final String USERNAME = SERDE_PREFIX + "auth.username";
    static final String PASSWORD = SERDE_PREFIX + "auth.password";

    ClientConfig {
        editstream = Collections.unmodifiableMap(new TreeMap<>(editstream));
        serde = Collections.unmodifiableMap(new TreeMap<>(serde));
        kafka = Collections.unmodifiableMap(new TreeMap<>(kafka));
    }

    static ClientConfig none() {
        return new ClientConfig(Map.of(), Map.of(), Map.of());
    }

    /** Reads {@code file}; a {@link CommandFailure} names it when it is missing or unreadable. */
    static ClientConfig load(Path file) {
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        } catch (NoSuchFileException e) {
            throw new CommandFailure("no such file: " + file, e);
        } catch (IOException | IllegalArgumentException e) {
            throw new CommandFailure("cannot read " + file + ": " + e.getMessage(), e);
        }
        return of(properties);
    }

    static ClientConfig of(Properties properties) {
        Map<String, String> editstream = new TreeMap<>();
        Map<String, String> serde = new TreeMap<>();
        Map<String, String> kafka = new TreeMap<>();
        for (String key : properties.stringPropertyNames()) {
            String value = properties.getProperty(key);
            if (key.startsWith("editstream.")) {
                editstream.put(key, value);
            } else if (key.startsWith(SERDE_PREFIX)) {
                serde.put(key, value);
            } else {
                kafka.put(key, value);
            }
        }
        return new ClientConfig(editstream, serde, kafka);
    }

    /** The {@code editstream.*} keys as properties (what TopologySettings reads). */
    Properties editstreamProperties() {
        Properties properties = new Properties();
        properties.putAll(editstream);
        return properties;
    }
}
