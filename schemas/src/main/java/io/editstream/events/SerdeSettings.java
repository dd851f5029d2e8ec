package io.editstream.events;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * How events are (de)serialised: the serde classes and their configuration come from here, never from code, so a
 * deployment on Confluent Schema Registry swaps in Confluent's serde by configuration alone.
 *
 * <p>The default is Apicurio's Avro serde writing the Confluent wire format (magic byte 0, 4-byte schema id, Avro
 * binary) with the schema id in the payload rather than in headers.
 *
 * @param serializerClass   Kafka {@link Serializer} for values
 * @param deserializerClass Kafka {@link Deserializer} for values; must produce SpecificRecords
 * @param config            the serde's own configuration (registry URL, id handling, ...)
 */
public record SerdeSettings(String serializerClass, String deserializerClass, Map<String, Object> config) {

    public static final String APICURIO_SERIALIZER = "io.apicurio.registry.serde.avro.AvroKafkaSerializer";
    public static final String APICURIO_DESERIALIZER = "io.apicurio.registry.serde.avro.AvroKafkaDeserializer";

    public SerdeSettings {
        Objects.requireNonNull(serializerClass, "serializerClass");
        Objects.requireNonNull(deserializerClass, "deserializerClass");
        config = Map.copyOf(config);
    }

    /**
     * Apicurio's serde against an Apicurio Registry.
     *
     * @param registryApiUrl the registry's v3 API, e.g. {@code http://127.0.0.1:8080/apis/registry/v3}
     */
    public static SerdeSettings apicurio(String registryApiUrl) {
        Map<String, Object> config = new HashMap<>();
        config.put("apicurio.registry.url", registryApiUrl);
        config.put("apicurio.registry.auto-register", "true");
        // Write with the producer's own schema (found or registered by content), never with whatever version was
        // registered last for the topic: one stray version must not change what every producer sends.
        config.put("apicurio.registry.find-latest", "false");
        // Confluent wire format: schema id in the payload, 4 bytes.
        config.put("apicurio.registry.headers.enabled", "false");
        config.put("apicurio.registry.use-specific-avro-reader", "true");
        config.put("apicurio.registry.avro-datum-provider", CachingAvroDatumProvider.class.getName());
        // A schema already resolved stays usable while the registry is unreachable: a registry outage must not
        // turn into failed records when the schema at hand is known.
        config.put("apicurio.registry.fault-tolerant-refresh", "true");
        return new SerdeSettings(APICURIO_SERIALIZER, APICURIO_DESERIALIZER, config);
    }

    /** A value serde for one event type, configured from these settings. */
    public <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type) {
        Serializer<T> serializer = instantiate(serializerClass);
        Deserializer<T> deserializer = instantiate(deserializerClass);
        Map<String, Object> deserializerConfig = new HashMap<>(config);
        deserializerConfig.put("apicurio.registry.deserializer.value.return-class", type.getName());
        serializer.configure(config, false);
        deserializer.configure(deserializerConfig, false);
        return Serdes.serdeFrom(serializer, deserializer);
    }

    @SuppressWarnings("unchecked")
    private static <X> X instantiate(String className) {
        try {
            return (X) Class.forName(className).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalArgumentException("cannot instantiate serde class " + className + ": " + e, e);
        }
    }
}
