package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.editstream.embedded.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --config}'s Kafka keys reach the admin client of a command's reachability check: against a real broker
 * listener that admits only SASL/PLAIN users, the right credentials get the command past the Kafka check (on to the
 * registry's, which fails here on purpose), wrong ones are refused with the broker's reason.
 */
class ClientConfigIT {
    private static EmbeddedKafka kafka;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startBroker() {
        kafka = EmbeddedKafka.startWithSaslPlain(Map.of("alice", "alice-secret"));
    }

    @AfterAll
    static void stopBroker() {
        kafka.close();
    }

    private static CommandLineTest.Run replayWith(String password) throws Exception {
        Path config = Files.writeString(dir.resolve(password + ".properties"), """
                security.protocol=SASL_PLAINTEXT
                sasl.mechanism=PLAIN
                sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="%s";
                """.formatted(password));
        return CommandLineTest.run("replay", "--bootstrap", kafka.saslBootstrapServers(),
                "--registry", "http://127.0.0.1:" + CommandLineTest.closedPort(), "--config", config.toString(),
                "--store", dir.resolve("store").toString(), "--model", "m");
    }

    @Test
    void theKafkaKeysOfConfigReachTheAdminClient() throws Exception {
        CommandLineTest.Run admitted = replayWith("alice-secret");
        assertEquals(1, admitted.exitCode(), admitted.err());
        assertTrue(admitted.err().contains("cannot reach the schema registry"), "past the SASL broker to the registry: " + admitted.err());

        CommandLineTest.Run refused = replayWith("wrong");
        assertEquals(1, refused.exitCode(), refused.err());
        assertTrue(refused.err().contains("cannot reach Kafka at " + kafka.saslBootstrapServers()), refused.err());
        assertTrue(refused.err().contains("Authentication failed"), refused.err());
        assertFalse(refused.err().contains("schema registry"), refused.err());
    }
}
