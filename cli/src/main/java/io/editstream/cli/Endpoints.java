package io.editstream.cli;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.clients.CommonClientConfigs;

import picocli.CommandLine.Option;

/** The {@code --bootstrap} and {@code --registry} options of every command that talks to a running deployment. */
final class Endpoints {
    /** How long to wait for a broker or the registry before giving up. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT", converter = KafkaCluster.Converter.class,
            description = "Kafka bootstrap servers.")
    KafkaCluster cluster;

    @Option(names = "--registry", required = true, paramLabel = "URL", converter = SchemaRegistry.Converter.class,
            description = "Apicurio Registry: http://host:port or http://host:port/apis/registry/v3.")
    SchemaRegistry registry;

    /** Settings every Kafka client of the command starts from: the bootstrap servers. */
    Map<String, Object> kafka() {
        Map<String, Object> config = new HashMap<>();
        config.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
        return config;
    }

    /** Fails with a clear {@link CommandFailure} when the broker or the registry does not answer in time. */
    void requireReachable() {
        cluster.requireReachable(CONNECT_TIMEOUT);
        registry.requireReachable(CONNECT_TIMEOUT);
    }
}
