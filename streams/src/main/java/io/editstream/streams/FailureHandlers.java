package io.editstream.streams;

import java.util.Map;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;

/**
 * The topology's Kafka Streams exception handlers. Both note the input record they fail on ({@link RecordFailures}),
 * so that a thread dying on it again and again stops the application with a message naming it.
 */
final class FailureHandlers {
    private FailureHandlers() {
    }

    /** An exception thrown while processing a record fails the thread, after noting the record. */
    public static final class Processing implements ProcessingExceptionHandler {
        private RecordFailures failures;

        @Override
        public void configure(Map<String, ?> configs) {
            failures = (RecordFailures) configs.get(RecordFailures.CONFIG);
        }

        @Override
        public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
            failures.failing(context);
            return Response.fail();
        }
    }

    /**
     * A record that cannot be written fails the thread, after noting the input record. Skipping it is not an
     * option: under exactly-once a send the producer refused leaves the transaction in an error state (it must
     * abort), skipping an edit-request would leave a gap in its model's sequence, and skipping a changelog record
     * would corrupt a store. So the topology never writes a record over the limit (byte limits on corrections,
     * dead letters and batches, checked against the producer's max.request.size at start); this handler turns a
     * smaller limit somewhere else (a topic's max.message.bytes) into an application stopped with a message naming
     * the record, not a partition that silently stalls.
     */
    public static final class Production implements ProductionExceptionHandler {
        private RecordFailures failures;

        @Override
        public void configure(Map<String, ?> configs) {
            failures = (RecordFailures) configs.get(RecordFailures.CONFIG);
        }

        @Override
        public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record,
                Exception exception) {
            failures.failing(context, record.topic(), record.key());
            return Response.fail();
        }

        @Override
        public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record,
                Exception exception, SerializationExceptionOrigin origin) {
            failures.failing(context, record.topic(), null);
            return Response.fail();
        }
    }
}
