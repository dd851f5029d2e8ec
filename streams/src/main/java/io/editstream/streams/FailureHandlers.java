package io.editstream.streams;

import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.editstream.events.DeadLetter;
import io.editstream.events.DeadLetterReason;

/**
 * The topology's Kafka Streams exception handlers. Both note the input record they fail on ({@link RecordFailures}),
 * so that a thread dying on it again and again stops the application with a message naming it.
 */
final class FailureHandlers {
    /** Config keys through which {@link CorrectionsApp} hands the handlers their collaborators. */
    static final String DEAD_LETTER_SERIALIZER = "editstream.internal.dead-letter-serializer";
    static final String DEAD_LETTER_TOPIC = "editstream.internal.dead-letter-topic";

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
     * A dead letter too large to write (a DLQ topic or producer with a smaller size limit than the topology's
     * budget) is replaced by one without the original bytes, which keeps their lengths and SHA-256 digests and the
     * record's coordinates: the refused record stays findable and the partition goes on. Anything else that cannot
     * be written fails the thread: skipping an edit-request would leave a gap in its model's sequence, and skipping
     * a changelog record would corrupt a store; the byte limits keep both under the record size limit.
     */
    public static final class Production implements ProductionExceptionHandler {
        private static final Logger log = LoggerFactory.getLogger(Production.class);
        private RecordFailures failures;
        private Serializer<DeadLetter> serializer;
        private String deadLetterTopic;
        private final DeadLetters withoutOriginals = new DeadLetters(0);

        @Override
        @SuppressWarnings("unchecked")
        public void configure(Map<String, ?> configs) {
            failures = (RecordFailures) configs.get(RecordFailures.CONFIG);
            serializer = (Serializer<DeadLetter>) configs.get(DEAD_LETTER_SERIALIZER);
            deadLetterTopic = (String) configs.get(DEAD_LETTER_TOPIC);
        }

        @Override
        public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record,
                Exception exception) {
            if (exception instanceof RecordTooLargeException && deadLetterTopic.equals(record.topic())) {
                DeadLetter replacement = withoutOriginals.of(
                        new DeadLetters.Source(context.topic(), context.partition(), context.offset()),
                        context.sourceRawKey(), context.sourceRawValue(), DeadLetterReason.OVERSIZED_RECORD,
                        "the dead letter of this record (" + size(record) + " bytes) could not be written ("
                                + exception.getMessage() + "); it is replaced by this one, without the original "
                                + "bytes", null, System.currentTimeMillis());
                log.warn("dead letter of {}-{}@{} too large to write ({} bytes); writing one without the original "
                        + "bytes", context.topic(), context.partition(), context.offset(), size(record));
                return Response.resume(List.of(new ProducerRecord<>(deadLetterTopic, null, record.timestamp(),
                        withoutOriginals.keptKey(context.sourceRawKey()),
                        serializer.serialize(deadLetterTopic, replacement))));
            }
            failures.failing(context);
            return Response.fail();
        }

        @Override
        public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record,
                Exception exception, SerializationExceptionOrigin origin) {
            failures.failing(context);
            return Response.fail();
        }

        private static int size(ProducerRecord<byte[], byte[]> record) {
            return (record.key() == null ? 0 : record.key().length)
                    + (record.value() == null ? 0 : record.value().length);
        }
    }
}
