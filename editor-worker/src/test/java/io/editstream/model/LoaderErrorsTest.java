package io.editstream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.editstream.model.format.HuggingFaceCheckpoint;
import io.editstream.model.format.ModelLoader;
import io.editstream.model.format.SafetensorsFile;
import io.editstream.model.format.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken model directories fail with a {@link ModelFormatException} that says what is wrong. */
class LoaderErrorsTest {

    @Test
    void unsupportedArchitecture(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"BertForMaskedLM\"], \"hidden_size\": 8}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(dir, Device.cpu()));
        assertMessage(e, "unsupported architecture 'BertForMaskedLM'");
    }

    @Test
    void missingTensor(@TempDir Path dir) throws Exception {
        writeGpt2With(dir, tensors -> tensors.remove("transformer.h.1.mlp.c_fc.bias"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(dir, Device.cpu()));
        assertMessage(e, "missing tensor transformer.h.1.mlp.c_fc.bias");
    }

    @Test
    void wrongShape(@TempDir Path dir) throws Exception {
        writeGpt2With(dir, tensors -> tensors.put("transformer.h.0.mlp.c_proj.weight",
                tensors.get("transformer.h.0.mlp.c_proj.weight").transpose()));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(dir, Device.cpu()));
        assertMessage(e, "tensor transformer.h.0.mlp.c_proj.weight has shape (32, 128), expected (128, 32)");
    }

    @Test
    void unsupportedDtype(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.safetensors");
        writeRaw(file, "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]);
        try (SafetensorsFile safetensors = SafetensorsFile.open(file); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> safetensors.read(manager, "ids"));
            assertMessage(e, "unsupported dtype I64");
        }
    }

    @Test
    void corruptHeader(@TempDir Path dir) throws Exception {
        Path tooLong = dir.resolve("long.safetensors");
        Files.write(tooLong, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertMessage(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(tooLong)), "corrupt safetensors header length");

        Path notJson = dir.resolve("garbage.safetensors");
        writeRaw(notJson, "{not json", new byte[0]);
        assertMessage(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(notJson)), "corrupt safetensors header");

        Path outOfRange = dir.resolve("range.safetensors");
        writeRaw(outOfRange, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]);
        assertMessage(assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(outOfRange)), "outside the 8 data bytes");

        Path truncatedBin = dir.resolve("model.bin");
        Files.write(truncatedBin, ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(64).putInt(172).putInt(5).putInt(8).putInt(4).putInt(512).putInt(512).array());
        Files.copy(SharedData.resolve("models/stories260K/tok512.bin"), dir.resolve("tok512.bin"));
        assertMessage(assertThrows(ModelFormatException.class, () -> ModelLoader.load(truncatedBin, Device.cpu())), "truncated");
    }

    @Test
    void halfAndBfloat16AreConvertedToFloat32(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("mixed.safetensors");
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        data.putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x3555).putShort((short) 0x0001); // F16: 1, -2, 0.33325195, 2^-24
        data.putShort((short) 0x3F80).putShort((short) 0xC040).putShort((short) 0x4049).putShort((short) 0x0000); // BF16: 1, -3, 3.140625, 0
        writeRaw(file, "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"half\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                + "\"brain\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[8,16]}}", data.array());
        try (SafetensorsFile safetensors = SafetensorsFile.open(file); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            assertArrayEquals(new float[] {1f, -2f, 0.33325195f, 0x1p-24f}, safetensors.read(manager, "half").toFloatArray());
            assertArrayEquals(new float[] {1f, -3f, 3.140625f, 0f}, safetensors.read(manager, "brain").toFloatArray());
        }
    }

    private interface TensorEdit {
        void apply(Map<String, NDArray> tensors);
    }

    /** A valid small GPT-2 directory, then its safetensors rewritten after {@code edit}. */
    private static void writeGpt2With(Path dir, TensorEdit edit) throws Exception {
        try (LanguageModel model = TestModels.randomGpt2(1); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            HuggingFaceCheckpoint.write(model, dir);
            Map<String, NDArray> tensors = new TreeMap<>(model.weights());
            edit.apply(tensors);
            Map<String, NDArray> contiguous = new TreeMap<>();
            tensors.forEach((name, array) -> contiguous.put(name, manager.create(array.toFloatArray(), array.getShape())));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), new TreeMap<>(contiguous), Map.of());
        }
    }

    private static void writeRaw(Path file, String header, byte[] data) throws Exception {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(json.length).put(json).put(data);
        Files.write(file, buffer.array());
    }

    private static void assertMessage(Exception e, String expected) {
        assertTrue(e.getMessage().contains(expected), "message was: " + e.getMessage());
    }
}
