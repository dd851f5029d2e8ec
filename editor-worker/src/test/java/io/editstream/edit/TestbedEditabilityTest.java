package io.editstream.edit;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.eval.CounterFactReader;
import io.editstream.eval.CounterFactRecord;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import io.editstream.train.CommittedTestbed;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed testbed reads its facts from the subject's residual stream, where MEMIT-family editors write: a free
 * change of the residual at the last subject token, after the last edit layer of its hyperparameters, makes the model
 * answer target_new. (A plain 4-layer memoriser looked facts up at the last prompt token and reached NLL &lt; 1 on
 * about 1 case in 10.)
 */
class TestbedEditabilityTest {

    private static final int CASES = 10;

    @Test
    void aChangeAtTheSubjectWritesTheNewTargetOfTrainSplitCases() throws Exception {
        List<CounterFactRecord> train = CounterFactReader.read(SharedData.resolve("data/counterfact/counterfact-train.json"));
        EditHyperparameters hyperparameters = EditHyperparameters.load("testbed");
        int layer = hyperparameters.targetLayer();
        EditHyperparameters.Target freeChange = new EditHyperparameters.Target(100, hyperparameters.target().learningRate(), 0, 0, 4.0, 0.05);
        int reached = 0;
        StringBuilder report = new StringBuilder();
        try (LanguageModel model = ModelLoader.load(CommittedTestbed.path(), Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            for (CounterFactRecord c : train.subList(0, CASES)) {
                EditTargets.Target target = EditTargets.compute(manager, model, List.of(c.toEditRequest()), List.of(""), layer, freeChange).get(0);
                report.append(String.format("%n%s -> %s: NLL %.2f -> %.2f", c.prompt(), c.targetNew(),
                        target.initialNll(), target.finalNll()));
                if (target.initialNll() > 3 && target.finalNll() < 1) {
                    reached++;
                }
            }
        }
        assertTrue(reached >= CASES * 8 / 10, reached + " of " + CASES + " reached:" + report);
    }
}
