package io.editstream.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class EmbeddedStackIT {

    @Test
    void brokerAndRegistryServeOnLoopbackAndStopOnClose() throws Exception {
        String bootstrap;
        String registryUrl;
        try (EmbeddedStack stack = EmbeddedStack.start(Map.of("probe", 2))) {
            bootstrap = stack.kafka().bootstrapServers();
            registryUrl = stack.registry().baseUrl();
            assertTrue(bootstrap.startsWith("127.0.0.1:"), bootstrap);
            assertTrue(registryUrl.startsWith("http://127.0.0.1:"), registryUrl);

            try (var admin = stack.kafka().admin()) {
                for (Node node : admin.describeCluster().nodes().get(10, TimeUnit.SECONDS)) {
                    assertEquals("127.0.0.1", node.host());
                }
                assertEquals(2, admin.describeTopics(List.of("probe")).allTopicNames().get().get("probe").partitions().size());
            }

            // transactions need the single-node replication settings: a committed record is visible to read_committed
            try (var producer = new KafkaProducer<String, String>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ProducerConfig.TRANSACTIONAL_ID_CONFIG, "probe-tx"), new StringSerializer(), new StringSerializer())) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("probe", 0, "k", "committed"));
                producer.commitTransaction();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("probe", 0, "k", "aborted"));
                producer.abortTransaction();
            }
            List<String> seen = new ArrayList<>();
            try (var consumer = new KafkaConsumer<String, String>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.GROUP_ID_CONFIG, "probe-reader",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new StringDeserializer())) {
                consumer.subscribe(List.of("probe"));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (seen.isEmpty() && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                        seen.add(r.value());
                    }
                }
            }
            assertEquals(List.of("committed"), seen);

            HttpResponse<String> info = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(registryUrl + "/apis/registry/v3/system/info")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, info.statusCode());
            assertTrue(info.body().contains("Apicurio Registry"), info.body());
        }
        assertFalse(listening(bootstrap), "broker still listening after close");
        assertFalse(listening(registryUrl.substring("http://".length())), "registry still listening after close");
    }

    @Test
    void aBadBrokerOverrideFailsWithAClearErrorAndLeavesNothingRunning() {
        var e = assertThrows(RuntimeException.class,
                () -> EmbeddedKafka.start(Map.of("num.partitions", "not-a-number")));
        assertTrue(e.getMessage().contains("num.partitions"), e.getMessage());
    }

    private static boolean listening(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))), 500);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
