package io.editstream.events;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.avro.Schema;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.specific.SpecificRecord;

import io.apicurio.registry.serde.avro.DefaultAvroDatumProvider;

/**
 * Apicurio's default datum provider, with its reader and writer caches keyed by the schema object instead of by
 * the schema's parsing fingerprint, which Apicurio 3.1.7 recomputes (normalising the whole schema text) for every
 * record (14-16% of the stream thread's time in {@code editstream bench streams}). Set by
 * {@link SerdeSettings#apicurio} through {@code apicurio.registry.avro-datum-provider}.
 */
public final class CachingAvroDatumProvider<T> extends DefaultAvroDatumProvider<T> {
    private record WriterKey(Schema schema, boolean specific) {
    }

    private final Map<WriterKey, DatumWriter<T>> writers = new ConcurrentHashMap<>();
    private final Map<Schema, DatumReader<T>> readers = new ConcurrentHashMap<>();

    @Override
    public DatumWriter<T> createDatumWriter(T data, Schema schema) {
        return writers.computeIfAbsent(new WriterKey(schema, data instanceof SpecificRecord),
                key -> super.createDatumWriter(data, schema));
    }

    @Override
    public DatumReader<T> createDatumReader(Schema schema) {
        return readers.computeIfAbsent(schema, key -> super.createDatumReader(schema));
    }
}
