package io.editstream.streams;

import java.io.IOException;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.specific.SpecificData;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Reader side of {@link TestAvroSerializer}: decodes into the SpecificRecord class named by the same config key the
 * Apicurio deserializer uses ({@code apicurio.registry.deserializer.value.return-class}, set by
 * {@code SerdeSettings.valueSerde}). Writer schemas other than the reader's own (older or broken versions, standing
 * in for what a registry would know) are listed under {@value #WRITER_SCHEMAS} as Avro schema JSON strings.
 */
public final class TestAvroDeserializer implements Deserializer<Object> {
    public static final String RETURN_CLASS = "apicurio.registry.deserializer.value.return-class";
    public static final String WRITER_SCHEMAS = "test.avro.writer-schemas";

    private BinaryMessageDecoder<Object> decoder;

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        Object className = configs.get(RETURN_CLASS);
        if (className == null) {
            throw new IllegalArgumentException(RETURN_CLASS + " is required");
        }
        try {
            Class<?> type = Class.forName(className.toString());
            SpecificData data = SpecificData.getForClass(type);
            decoder = new BinaryMessageDecoder<>(data, data.getSchema(type));
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("unknown record class " + className, e);
        }
        Object writers = configs.get(WRITER_SCHEMAS);
        if (writers instanceof Iterable<?> schemas) {
            for (Object schema : schemas) {
                decoder.addSchema(new Schema.Parser().parse(schema.toString()));
            }
        }
    }

    @Override
    public Object deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        try {
            return decoder.decode(data);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot decode an Avro single-object message: " + e.getMessage(), e);
        }
    }
}
