package io.editstream.cli.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How the demo runs.
 *
 * @param counterFact   the CounterFact file (JSON array, EasyEdit format) the facts come from
 * @param models        the models the deployment edits
 * @param factsPerModel new corrections per model (at least 8)
 * @param batchMaxEdits most edits per batch
 * @param batchLinger   how long a batch that has not filled up waits
 * @param grace         the topology's reorder grace period
 * @param seed          picks the facts and the noise
 * @param timeout       how long to wait for everything fed to come out
 */
public record DemoOptions(Path counterFact, List<String> models, int factsPerModel, int batchMaxEdits,
        Duration batchLinger, Duration grace, long seed, Duration timeout) {
    public DemoOptions {
        models = List.copyOf(models);
    }
}
