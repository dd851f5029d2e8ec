package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.editstream.model.LanguageModel;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A test class's manager and stories260K's C0 ({@link Stories#secondMoments}), for tests that create editors:
 * {@code @RegisterExtension static final StoriesEditing stories = new StoriesEditing();}, open before the class's tests
 * and closed after them.
 */
final class StoriesEditing implements BeforeAllCallback, AfterAllCallback {

    private NDManager manager;
    private Map<Integer, FloatMatrix> c0;

    @Override
    public void beforeAll(ExtensionContext context) {
        manager = NDManager.newBaseManager(Device.cpu());
        try (LanguageModel model = Stories.load()) {
            c0 = Stories.secondMoments(model, manager);
        }
    }

    NDManager manager() {
        return manager;
    }

    Map<Integer, FloatMatrix> c0() {
        return c0;
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }
}
