package io.editstream.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.clients.CommonClientConfigs;

import io.editstream.events.SerdeSettings;
import picocli.CommandLine.Option;

/**
 * The {@code --bootstrap}, {@code --registry} and {@code --config} options of every command that talks to a running
 * deployment, and the client settings they make: every Kafka client the command creates starts from {@link #kafka},
 * every serde from {@link #serdes}.
 */
final class Endpoints {
    /** How long to wait for a broker or the registry before giving up. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT", converter = KafkaCluster.Converter.class,
            description = "Kafka bootstrap servers.")
    KafkaCluster cluster;

    @Option(names = "--registry", paramLabel = "URL", converter = SchemaRegistry.UrlConverter.class,
            description = "Schema registry: Apicurio's http://host:port or its /apis/registry/v3 URL, or a Confluent-compatible API "
                    + "(Apicurio's /apis/ccompat/v7, Confluent Schema Registry) with a Confluent serde in --config. Default: "
                    + ClientConfig.REGISTRY_URL + " of --config.")
    String registryUrl;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Java properties: Kafka client settings (security.protocol, sasl.*, ssl.*, ...) for every client, "
                    + "apicurio.registry.* for the registry serde (auth), editstream.* settings (see the README).")
    Path configFile;

    private ClientConfig config;
    private SchemaRegistry registry;

    /** The {@code --config} file's settings (none without one), read once. */
    ClientConfig config() {
        if (config == null) {
            config = configFile == null ? ClientConfig.none() : ClientConfig.load(configFile);
        }
        return config;
    }

    String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    /** Settings every Kafka client of the command starts from: the bootstrap servers and the Kafka keys of --config. */
    Map<String, Object> kafka() {
        Map<String, Object> kafka = new HashMap<>(config().kafka());
        kafka.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
        return kafka;
    }

    /** The registry of {@code --registry}, else of {@value ClientConfig#REGISTRY_URL} in --config. */
    SchemaRegistry registry() {
        if (registry == null) {
            String url = registryUrl != null ? registryUrl : config().editstream().get(ClientConfig.REGISTRY_URL);
            if (url == null) {
                throw new CommandFailure("no schema registry given: --registry URL or " + ClientConfig.REGISTRY_URL + " in --config");
            }
            registry = SchemaRegistry.parse(url, config());
        }
        return registry;
    }

    SerdeSettings serdes() {
        return registry().serdeSettings();
    }

    /** Fails with a clear {@link CommandFailure} when the broker or the registry does not answer in time. */
    void requireReachable() {
        cluster.requireReachable(CONNECT_TIMEOUT, kafka());
        registry().requireReachable(CONNECT_TIMEOUT);
    }
}
