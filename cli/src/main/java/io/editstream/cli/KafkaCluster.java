package io.editstream.cli;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.KafkaException;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The {@code --bootstrap} of a command. A producer or a Streams app facing an unreachable cluster retries quietly
 * for minutes; asking for the cluster's metadata first turns that into one clear message within seconds.
 */
record KafkaCluster(String bootstrapServers) {
    private static final Pattern HOST_PORT_LIST = Pattern.compile("[^\\s,:]+:\\d{1,5}(,[^\\s,:]+:\\d{1,5})*");

    /**
     * Fails with a {@link CommandFailure} unless a broker answers within {@code timeout}.
     *
     * @param clientConfig the command's Kafka client settings (security, SASL, SSL): the check connects as its clients will
     */
    void requireReachable(Duration timeout, Map<String, Object> clientConfig) {
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        Admin admin;
        try {
            admin = Admin.create(config);
        } catch (KafkaException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new CommandFailure("cannot use Kafka bootstrap servers '" + bootstrapServers + "': "
                    + cause.getMessage(), e);
        }
        try {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()))
                    .nodes().get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException)) {
                // refused credentials, an SSL handshake that failed, ...: what the broker said
                throw new CommandFailure("cannot reach Kafka at " + bootstrapServers + ": " + EditstreamCommand.describe(e.getCause()), e);
            }
            throw new CommandFailure("cannot reach Kafka at " + bootstrapServers + ": no broker answered within "
                    + timeout.toSeconds() + " s", e);
        } catch (TimeoutException e) {
            throw new CommandFailure("cannot reach Kafka at " + bootstrapServers + ": no broker answered within "
                    + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while connecting to Kafka at " + bootstrapServers, e);
        } finally {
            admin.close(Duration.ZERO);
        }
    }

    /** Parses {@code --bootstrap}: a comma-separated list of host:port. */
    static final class Converter implements ITypeConverter<KafkaCluster> {
        @Override
        public KafkaCluster convert(String value) {
            String servers = value.strip();
            if (!HOST_PORT_LIST.matcher(servers).matches()) {
                throw new TypeConversionException("'" + value + "' is not a list of HOST:PORT");
            }
            return new KafkaCluster(servers);
        }
    }
}
