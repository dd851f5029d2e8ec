package io.editstream.streams;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.apache.avro.generic.GenericContainer;
import org.apache.avro.generic.GenericData;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A registry-free Avro serde for unit tests: Avro single-object encoding (marker, the writer schema's fingerprint,
 * Avro binary). Configured through {@code SerdeSettings} class names like the production serde; see
 * {@link TestAvroDeserializer} for how readers learn writer schemas.
 */
public final class TestAvroSerializer implements Serializer<Object> {

    @Override
    public byte[] serialize(String topic, Object value) {
        if (value == null) {
            return null;
        }
        if (!(value instanceof GenericContainer record)) {
            throw new SerializationException("not an Avro record: " + value.getClass());
        }
        GenericData data = value instanceof SpecificRecord
                ? SpecificData.getForClass(value.getClass())
                : GenericData.get();
        try {
            ByteBuffer buffer = new BinaryMessageEncoder<Object>(data, record.getSchema()).encode(value);
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        } catch (IOException e) {
            throw new SerializationException("cannot encode " + record.getSchema().getFullName(), e);
        }
    }
}
