package io.editstream.streams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

import io.editstream.corrections.EncodedSize;
import io.editstream.events.EditRequest;
import io.editstream.events.Supersession;

/**
 * An edit on its way to a batch, with the corrections it superseded while it waited in the reorder buffer (they are
 * reported in the same batch as the edit that replaced them).
 */
record PendingEdit(EditRequest request, List<Supersession> superseded) {

    PendingEdit {
        superseded = List.copyOf(superseded);
    }

    /** An upper bound of the encoded size of the supersessions (see {@link EncodedSize}). */
    long supersededBytes() {
        long bytes = 0;
        for (Supersession s : superseded) {
            bytes += EncodedSize.of(s);
        }
        return bytes;
    }

    PendingEdit withSupersession(Supersession loser) {
        List<Supersession> all = new ArrayList<>(superseded);
        all.add(loser);
        return new PendingEdit(request, all);
    }

    /**
     * Store format: the request and each supersession in Avro single-object encoding (which carries the writer
     * schema's fingerprint, so a store written by an older version stays readable), each length-prefixed.
     */
    static Serde<PendingEdit> serde() {
        Serde<EditRequest> requests = SpecificRecordSerde.of(EditRequest.class);
        Serde<Supersession> supersessions = SpecificRecordSerde.of(Supersession.class);
        return Serdes.serdeFrom(
                (topic, edit) -> edit == null ? null : write(edit, requests, supersessions),
                (topic, bytes) -> bytes == null ? null : read(bytes, requests, supersessions));
    }

    private static byte[] write(PendingEdit edit, Serde<EditRequest> requests, Serde<Supersession> supersessions) {
        try (var bytes = new ByteArrayOutputStream(); var out = new DataOutputStream(bytes)) {
            writeChunk(out, requests.serializer().serialize(null, edit.request()));
            out.writeInt(edit.superseded().size());
            for (Supersession s : edit.superseded()) {
                writeChunk(out, supersessions.serializer().serialize(null, s));
            }
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode a pending edit", e);
        }
    }

    private static PendingEdit read(byte[] data, Serde<EditRequest> requests, Serde<Supersession> supersessions) {
        try (var in = new DataInputStream(new ByteArrayInputStream(data))) {
            EditRequest request = requests.deserializer().deserialize(null, readChunk(in));
            int count = in.readInt();
            List<Supersession> superseded = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                superseded.add(supersessions.deserializer().deserialize(null, readChunk(in)));
            }
            return new PendingEdit(request, superseded);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot decode a pending edit from the reorder buffer", e);
        }
    }

    private static void writeChunk(DataOutputStream out, byte[] chunk) throws IOException {
        out.writeInt(chunk.length);
        out.write(chunk);
    }

    private static byte[] readChunk(DataInputStream in) throws IOException {
        byte[] chunk = new byte[in.readInt()];
        in.readFully(chunk);
        return chunk;
    }
}
