package dev.panamax.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.Backends;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** What holds with or without a GPU: discovery, device selection, the upload layouts. */
class CudaBackendTest {

    @Test
    void theBackendIsFoundByName() {
        assertNotNull(Backends.find("cuda"));
        assertEquals("cuda", Backends.find("cuda").name());
    }

    @Test
    void withoutAGpuCudaIsAOneLineErrorAndAutoKeepsTheCpu() {
        String why = new CudaBackend().unavailableReason();
        Assumptions.assumeTrue(why != null, "this machine has a usable GPU");
        assertFalse(why.isBlank());
        assertFalse(why.contains("\n"), why);
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(CudaModelTest.shared().resolve("fixtures/hf/llama"), CudaModelTest.OPTIONS)) {
            List<String> notes = new ArrayList<>();
            assertSame(cpu, Backends.place("auto", cpu, notes::add));
            assertTrue(notes.get(0).startsWith("device: cpu (cuda: "), notes.toString());
            ModelException e = assertThrows(ModelException.class, () -> Backends.place("cuda", cpu, notes::add));
            assertTrue(e.getMessage().contains(why), e.getMessage());
            assertSame(cpu, Backends.place("cpu", cpu, notes::add));
        }
    }

    @Test
    void anUnknownDeviceNamesTheOnesThereAre() {
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(CudaModelTest.shared().resolve("fixtures/hf/llama"), CudaModelTest.OPTIONS)) {
            ModelException e = assertThrows(ModelException.class, () -> Backends.place("tpu", cpu, s -> {}));
            assertTrue(e.getMessage().contains("cpu, auto, cuda"), e.getMessage());
        }
    }

    @Test
    void architecturesWithoutACudaPathSaySo() {
        dev.panamax.runtime.model.LanguageModel stranger = new dev.panamax.runtime.model.LanguageModel() { // an architecture with no GPU description
            @Override public String architecture() { return "rwkv"; }
            @Override public dev.panamax.runtime.tokenizer.Tokenizer tokenizer() { return null; }
            @Override public int vocabSize() { return 1; }
            @Override public int contextLength() { return 1; }
            @Override public Session newSession() { throw new UnsupportedOperationException(); }
            @Override public void close() {}
        };
        String why = new CudaBackend().cannotRun(stranger);
        assertNotNull(why);
        assertTrue(why.contains("rwkv") && why.contains("no CUDA path"), why);
        for (String name : new String[] {"mamba", "mamba2", "llama", "gpt2", "bert", "qwen3_next"}) {
            try (dev.panamax.runtime.model.Model m = ModelLoader.load(CudaModelTest.shared().resolve("fixtures/hf").resolve(name), CudaModelTest.OPTIONS)) {
                assertEquals(null, new CudaBackend().cannotRun(m), name);
            }
        }
    }

    @Test
    void anF16KvCacheIsPartOfTheDecoderDescription() {
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(CudaModelTest.shared().resolve("fixtures/hf/llama"),
                CudaModelTest.OPTIONS.withKvCache(dev.panamax.runtime.LoadOptions.KvCache.F16))) {
            assertEquals(null, new CudaBackend().cannotRun(cpu));
            assertTrue(((dev.panamax.runtime.backend.DecoderSpec.Source) cpu).decoderSpec().kvF16());
        }
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(CudaModelTest.shared().resolve("fixtures/hf/llama"), CudaModelTest.OPTIONS)) {
            assertFalse(((dev.panamax.runtime.backend.DecoderSpec.Source) cpu).decoderSpec().kvF16());
        }
    }

    /** BF16 stays BF16 (the bits as they are, stacked and interleaved rows alike); a mix with F32 becomes F32. */
    @Test
    void bf16UploadsKeepTheirBits() {
        Random r = new Random(2);
        int cols = 40;
        Tensor a = Gpu.tensor(DType.BF16, 3, cols, Gpu.random(r, 3 * cols, 1f)), b = Gpu.tensor(DType.BF16, 3, cols, Gpu.random(r, 3 * cols, 1f));
        assertEquals(DeviceMatrix.BF16, DeviceMatrix.formatOf(a, b));
        assertEquals(DeviceMatrix.F32, DeviceMatrix.formatOf(a, Gpu.tensor(DType.F32, 1, cols, new float[cols])));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment packed = DeviceMatrix.pack(arena, DeviceMatrix.BF16, a, b);
            assertEquals(2L * 6 * cols, packed.byteSize());
            for (int row = 0; row < 6; row++) {
                Tensor t = row < 3 ? a : b;
                for (int c = 0; c < cols; c++) {
                    assertEquals(t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * ((row % 3) * cols + c)),
                            packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * (row * cols + c)), "row " + row + " col " + c);
                }
            }
        }
    }

    @Test
    void searchFoldersExistAndAreListedOnce() {
        List<Path> folders = CudaLibraries.searchFolders();
        assertEquals(folders.size(), folders.stream().distinct().count());
        for (Path p : folders) assertTrue(java.nio.file.Files.isDirectory(p), p.toString());
    }

    /** Q8_0/Q4_0 blocks split into codes then scales, rows of stacked tensors one after another. */
    @Test
    void quantizedUploadsSplitCodesFromScales() {
        Random r = new Random(1);
        for (DType type : new DType[] {DType.Q8_0, DType.Q4_0}) {
            int cols = 96;
            Tensor a = Gpu.tensor(type, 3, cols, Gpu.random(r, 3 * cols, 1f)), b = Gpu.tensor(type, 2, cols, Gpu.random(r, 2 * cols, 1f));
            int format = DeviceMatrix.formatOf(a, b);
            assertEquals(type == DType.Q8_0 ? DeviceMatrix.Q8_0 : DeviceMatrix.Q4_0, format);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment packed = DeviceMatrix.pack(arena, format, a, b);
                int codeBytes = type == DType.Q8_0 ? 32 : 16, blockBytes = codeBytes + 2, blocksPerRow = cols / 32, rows = 5;
                assertEquals((long) rows * blocksPerRow * blockBytes, packed.byteSize());
                var le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
                for (int row = 0; row < rows; row++) {
                    Tensor t = row < 3 ? a : b;
                    int rr = row < 3 ? row : row - 3;
                    for (int blk = 0; blk < blocksPerRow; blk++) {
                        long src = (long) (rr * blocksPerRow + blk) * blockBytes, dst = (long) (row * blocksPerRow + blk);
                        assertEquals(t.data().get(le, src), packed.get(le, (long) rows * blocksPerRow * codeBytes + 2 * dst), "scale");
                        for (int j = 0; j < codeBytes; j++) {
                            assertEquals(t.data().get(ValueLayout.JAVA_BYTE, src + 2 + j), packed.get(ValueLayout.JAVA_BYTE, dst * codeBytes + j), "code");
                        }
                    }
                }
            }
        }
    }

    @Test
    void otherTypesAndMixesBecomeHalfFloatsAndBf16BecomesF32() {
        Random r = new Random(2);
        Tensor q6 = Gpu.tensor(DType.Q6_K, 2, 256, Gpu.random(r, 512, 1f)), q8 = Gpu.tensor(DType.Q8_0, 2, 256, Gpu.random(r, 512, 1f));
        Tensor bf = Gpu.tensor(DType.BF16, 2, 256, Gpu.random(r, 512, 1f)), f32 = Gpu.tensor(DType.F32, 2, 256, Gpu.random(r, 512, 1f));
        assertEquals(DeviceMatrix.F16, DeviceMatrix.formatOf(q6));
        assertEquals(DeviceMatrix.F16, DeviceMatrix.formatOf(q8, q6));
        assertEquals(DeviceMatrix.F32, DeviceMatrix.formatOf(bf, f32));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = DeviceMatrix.pack(arena, DeviceMatrix.F32, bf);
            float[] want = bf.toFloats(dev.panamax.simd.Simd.kernels());
            for (int i = 0; i < want.length; i++) assertEquals(want[i], p.getAtIndex(ValueLayout.JAVA_FLOAT, i));
        }
    }
}
