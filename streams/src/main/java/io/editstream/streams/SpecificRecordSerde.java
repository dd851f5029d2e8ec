package io.editstream.streams;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

import io.editstream.events.ReleasedSchemas;

/**
 * State-store values as Avro single-object encoding: internal state needs no registry, and the encoding carries the
 * writer schema's fingerprint. The decoder knows every released version of the type ({@link ReleasedSchemas}), so
 * an entry written by an older release (a changelog restored after an upgrade) is resolved against the current
 * schema by its fingerprint instead of failing with {@code MissingSchemaException}.
 */
final class SpecificRecordSerde {
    private SpecificRecordSerde() {
    }

    static <T extends SpecificRecord> Serde<T> of(Class<T> type) {
        SpecificData data = SpecificData.getForClass(type);
        var schema = data.getSchema(type);
        BinaryMessageEncoder<T> encoder = new BinaryMessageEncoder<>(data, schema);
        BinaryMessageDecoder<T> decoder = new BinaryMessageDecoder<>(data, schema);
        ReleasedSchemas.onClassPath().versionsOf(schema.getFullName()).forEach(decoder::addSchema);
        return Serdes.serdeFrom(
                (topic, value) -> {
                    if (value == null) {
                        return null;
                    }
                    try {
                        ByteBuffer buffer = encoder.encode(value);
                        byte[] bytes = new byte[buffer.remaining()];
                        buffer.get(bytes);
                        return bytes;
                    } catch (IOException e) {
                        throw new SerializationException("cannot encode " + type.getSimpleName(), e);
                    }
                },
                (topic, bytes) -> {
                    if (bytes == null) {
                        return null;
                    }
                    try {
                        return decoder.decode(bytes);
                    } catch (IOException e) {
                        throw new SerializationException("cannot decode " + type.getSimpleName(), e);
                    }
                });
    }
}
