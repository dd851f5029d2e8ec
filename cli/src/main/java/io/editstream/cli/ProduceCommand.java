package io.editstream.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;

import io.editstream.client.CorrectionDefaults;
import io.editstream.client.CorrectionFile;
import io.editstream.client.CorrectionFile.Entry;
import io.editstream.client.CorrectionFile.Parsed;
import io.editstream.client.CorrectionPublisher;
import io.editstream.client.InvalidCorrectionException;
import io.editstream.corrections.ValidationRules;
import io.editstream.events.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Publishes a file of corrections through {@link CorrectionPublisher}, as a detector would. Every record that is not
 * sent is reported with its line; the exit status is non-zero when any was not sent.
 */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = {
            "Publish corrections from a file to the corrections topic.",
            "The file holds one JSON object per line (or one JSON array of objects): CounterFact records in EasyEdit "
                    + "format, or CorrectionEvent fields in snake_case."})
final class ProduceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Endpoints endpoints;

    @Option(names = "--model", paramLabel = "MODEL",
            description = "Model id for records without model_id (records that name another model are refused).")
    String model;

    @Option(names = "--file", required = true, paramLabel = "FILE", description = "The corrections file.")
    Path file;

    @Option(names = "--source", paramLabel = "NAME", defaultValue = "editstream-produce",
            description = "Detector name for records without source (default: ${DEFAULT-VALUE}).")
    String source;

    private record Rejected(int line, String reason, String message) {
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Entry> entries = readFile();
        if (entries.isEmpty()) {
            throw new CommandFailure(file + " holds no correction records");
        }
        List<Parsed> parsed = new ArrayList<>();
        int malformed = 0;
        for (Entry entry : entries) {
            if (entry instanceof Parsed p) {
                parsed.add(p);
            } else {
                err.println(entry);
                malformed++;
            }
        }
        err.flush();

        List<Rejected> rejected = new ArrayList<>();
        int sent = parsed.isEmpty() ? 0 : publish(parsed, rejected);
        rejected.forEach(r -> err.println("line " + r.line() + ": rejected, " + r.reason() + ": " + r.message()));
        err.flush();

        out.println("sent " + sent + " of " + entries.size() + " records from " + file + " to " + Topics.CORRECTIONS);
        if (!rejected.isEmpty()) {
            Map<String, Integer> byReason = new TreeMap<>();
            rejected.forEach(r -> byReason.merge(r.reason(), 1, Integer::sum));
            out.println("rejected " + rejected.size() + " before sending: " + byReason);
        }
        if (malformed > 0) {
            out.println("malformed " + malformed + " (not corrections, see the line numbers on stderr)");
        }
        out.flush();
        int notSent = entries.size() - sent;
        if (notSent > 0) {
            err.println(spec.qualifiedName() + ": " + notSent + " of " + entries.size() + " records were not sent");
            err.flush();
            return EditstreamCommand.EXIT_FAILURE;
        }
        return 0;
    }

    private List<Entry> readFile() {
        try {
            return CorrectionFile.read(file, new CorrectionDefaults(model, source, Instant.now()));
        } catch (NoSuchFileException e) {
            throw new CommandFailure("no such file: " + file, e);
        } catch (CharacterCodingException e) {
            throw new CommandFailure("cannot read " + file + ": it is not UTF-8 text", e);
        } catch (IOException e) {
            throw new CommandFailure("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Sends every parsed record; returns how many the broker acknowledged and collects the refused ones. */
    private int publish(List<Parsed> parsed, List<Rejected> rejected) {
        endpoints.requireReachable();
        Map<String, Object> producerOverrides = endpoints.kafka();
        producerOverrides.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        producerOverrides.putIfAbsent(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        producerOverrides.putIfAbsent(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        List<Future<RecordMetadata>> pending = new ArrayList<>();
        try (CorrectionPublisher publisher = new CorrectionPublisher(endpoints.bootstrapServers(),
                endpoints.serdes(), ValidationRules.anyModel(), producerOverrides)) {
            for (Parsed record : parsed) {
                try {
                    pending.add(publisher.publish(record.event()));
                } catch (InvalidCorrectionException e) {
                    rejected.add(new Rejected(record.line(), e.rejection().reason().name(), e.rejection().message()));
                } catch (RuntimeException e) {
                    // The serializer's registry calls and the producer's metadata wait fail here, not in the future.
                    throw new CommandFailure("line " + record.line() + ": cannot send to " + endpoints.bootstrapServers()
                            + " (registry " + endpoints.registry().url() + "): " + EditstreamCommand.describe(e), e);
                }
            }
            publisher.flush();
            return acknowledged(pending);
        }
    }

    private int acknowledged(List<Future<RecordMetadata>> pending) {
        int acknowledged = 0;
        for (Future<RecordMetadata> send : pending) {
            try {
                send.get();
                acknowledged++;
            } catch (ExecutionException e) {
                throw new CommandFailure("the broker did not acknowledge a correction after " + acknowledged
                        + " others: " + EditstreamCommand.describe(e.getCause()), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CommandFailure("interrupted while waiting for acknowledgements", e);
            }
        }
        return acknowledged;
    }
}
