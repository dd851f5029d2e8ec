package io.editstream.streams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * An input record waiting for the schema registry, exactly as it was read: where it came from, its timestamp,
 * headers, key and value.
 */
record ParkedRecord(DeadLetters.Source source, long timestamp, Headers headers, byte[] key, byte[] value) {

    static Serde<ParkedRecord> serde() {
        return Serdes.serdeFrom(
                (topic, parked) -> parked == null ? null : write(parked),
                (topic, bytes) -> bytes == null ? null : read(bytes));
    }

    private static byte[] write(ParkedRecord parked) {
        try (var bytes = new ByteArrayOutputStream(); var out = new DataOutputStream(bytes)) {
            out.writeUTF(parked.source().topic());
            out.writeInt(parked.source().partition());
            out.writeLong(parked.source().offset());
            out.writeLong(parked.timestamp());
            Header[] headers = parked.headers().toArray();
            out.writeInt(headers.length);
            for (Header header : headers) {
                out.writeUTF(header.key());
                writeBytes(out, header.value());
            }
            writeBytes(out, parked.key());
            writeBytes(out, parked.value());
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode a parked record", e);
        }
    }

    private static ParkedRecord read(byte[] data) {
        try (var in = new DataInputStream(new ByteArrayInputStream(data))) {
            var source = new DeadLetters.Source(in.readUTF(), in.readInt(), in.readLong());
            long timestamp = in.readLong();
            Headers headers = new RecordHeaders();
            for (int i = in.readInt(); i > 0; i--) {
                headers.add(in.readUTF(), readBytes(in));
            }
            return new ParkedRecord(source, timestamp, headers, readBytes(in), readBytes(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot decode a parked record", e);
        }
    }

    private static void writeBytes(DataOutputStream out, byte[] bytes) throws IOException {
        out.writeInt(bytes == null ? -1 : bytes.length);
        if (bytes != null) {
            out.write(bytes);
        }
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0) {
            return null;
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }
}
