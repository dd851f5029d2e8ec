package io.editstream.streams;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;

import org.apache.avro.AvroRuntimeException;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

/** Which deserialization failures are a registry outage (the record waits) rather than bad bytes (DLQ). */
class RegistryUnreachableTest {
    /** Shaped like a registry client's HTTP error (Apicurio's Kiota ApiException has this getter). */
    static final class HttpError extends RuntimeException {
        private final int status;

        HttpError(int status) {
            super("HTTP " + status);
            this.status = status;
        }

        public int getResponseStatusCode() {
            return status;
        }
    }

    @Test
    void connectionFailuresAndServerErrorsAreOutages() {
        assertTrue(DecodeAndValidate.isRegistryUnreachable(
                new RuntimeException(new RuntimeException(new ConnectException("Connection refused")))));
        assertTrue(DecodeAndValidate.isRegistryUnreachable(new SerializationException(new HttpError(503))));
    }

    @Test
    void undecodableBytesAndClientErrorsAreNot() {
        assertFalse(DecodeAndValidate.isRegistryUnreachable(new SerializationException(new HttpError(404))));
        assertFalse(DecodeAndValidate.isRegistryUnreachable(new AvroRuntimeException("Malformed data")));
        assertFalse(DecodeAndValidate.isRegistryUnreachable(new IllegalStateException("unknown magic byte")));
    }
}
