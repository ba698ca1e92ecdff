package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The lane-order twins compute the vector kernels' bits (the promise that lets {@link WarmingKernels}
 * switch between them at any moment): every twinned kernel on random inputs over the shapes that
 * take each branch — whole 4-vector blocks, single vectors, scalar tails, lengths below one vector,
 * matvec rows below and above the row-dot width, the dot tiles' whole blocks, partial blocks of rows
 * and edges — and over values that reach e^x's clamps. Where this JVM has no Vector API there is
 * nothing to twin, and the tests say so by not running.
 */
class LaneOrderKernelsTest {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] LENGTHS = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 256, 288, 300};

    private static Kernels vector() {
        assumeTrue(Simd.vector().isPresent(), "no Vector API in this JVM: nothing to twin");
        return Simd.vector().get();
    }

    private static LaneOrderKernels twin(Kernels v) throws ReflectiveOperationException {
        int rowDotsBelow = Class.forName("dev.panamax.simd.VectorKernels").getDeclaredField("ROW_DOTS_BELOW").getInt(null);
        return new LaneOrderKernels(v.vectorBits() / 32, rowDotsBelow);
    }

    private static float[] random(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    private static void same(String what, float want, float got) {
        if (Float.isNaN(want) && Float.isNaN(got)) return;
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got), () -> what + ": twin " + got + " against vector " + want);
    }

    private static void same(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) same(what + " [" + i + "]", want[i], got[i]);
    }

    /** {@code body} applied to a copy of {@code x} by each side: the results equal bit for bit. */
    private static void sameInPlace(String what, float[] x, Consumer<float[]> vector, Consumer<float[]> twin) {
        float[] a = x.clone(), b = x.clone();
        vector.accept(a);
        twin.accept(b);
        same(what, a, b);
    }

    @Test
    void dotProducts() throws Exception {
        Kernels v = vector();
        LaneOrderKernels t = twin(v);
        Random r = new Random(1);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : LENGTHS) {
                for (int off : new int[] {0, 3}) {
                    float[] a = random(r, n + off, 1), b = random(r, n + off, 1);
                    same("dot n=" + n + " off=" + off, v.dot(a, off, b, off, n), t.dot(a, off, b, off, n));
                    MemorySegment w = arena.allocate(4L * (n + off) + 4, 64);
                    MemorySegment.copy(a, 0, w, F32_LE, 4, n + off);
                    same("segment dot n=" + n, v.dot(w, 4 + 4L * off, b, off, n), t.dot(w, 4 + 4L * off, b, off, n));
                }
            }
            float[] x = random(r, 300, 1), wts = random(r, 300, 1);
            sameInPlace("rmsnorm", new float[300], o -> v.rmsnorm(o, 0, x, 0, wts, 300, 1e-5f), o -> t.rmsnorm(o, 0, x, 0, wts, 300, 1e-5f));
            sameInPlace("rmsnorm 37", new float[40], o -> v.rmsnorm(o, 3, x, 5, wts, 37, 1e-6f), o -> t.rmsnorm(o, 3, x, 5, wts, 37, 1e-6f));
        }
    }

    @Test
    void matrixTimesVector() throws Exception {
        Kernels v = vector();
        LaneOrderKernels t = twin(v);
        Random r = new Random(2);
        try (Arena arena = Arena.ofShared()) {
            for (int cols : new int[] {1, 7, 16, 17, 65, 288, 300, 1023, 1024, 1100, 4096, 4101}) {
                for (int rows : new int[] {1, 5, 37}) {
                    float[] w = random(r, rows * cols, 1);
                    MemorySegment seg = arena.allocate(4L * w.length + 8, 64);
                    MemorySegment.copy(w, 0, seg, F32_LE, 8, w.length);
                    float[] x = random(r, 3 * cols, 1), a = new float[rows], b = new float[rows];
                    v.matvec(seg, 8, x, a, rows, cols);
                    t.matvec(seg, 8, x, b, rows, cols);
                    same("matvec [" + rows + ", " + cols + "]", a, b);
                    float[] ab = new float[3 * rows], bb = new float[3 * rows];
                    v.matvecBatch(seg, 8, x, 3, ab, rows, cols);
                    t.matvecBatch(seg, 8, x, 3, bb, rows, cols);
                    same("matvecBatch [" + rows + ", " + cols + "]", ab, bb);
                }
            }
        }
    }

    @Test
    void attentionTiles() throws Exception {
        Kernels v = vector();
        LaneOrderKernels t = twin(v);
        Random r = new Random(3);
        for (int len : new int[] {1, 5, 16, 31, 32, 33, 64, 67, 128}) {
            for (int mm = 1; mm <= 9; mm++) {
                for (int nn = 1; nn <= 9; nn++) {
                    int m = mm, n = nn, aStride = len + 2, bStride = len + 5, cStride = n + 1;
                    float[] a = random(r, m * aStride, 1), b = random(r, n * bStride, 1);
                    String shape = " m=" + m + " n=" + n + " len=" + len;
                    sameInPlace("dotTile" + shape, new float[1 + m * cStride],
                            c -> v.dotTile(a, 1, aStride, m, b, 2, bStride, n, len, c, 1, cStride),
                            c -> t.dotTile(a, 1, aStride, m, b, 2, bStride, n, len, c, 1, cStride));
                    float[] p = random(r, m * (n + 3), 1), vals = random(r, n * bStride, 1);
                    sameInPlace("mulAddTile" + shape, random(r, m * (len + 4) + 2, 1),
                            c -> v.mulAddTile(p, 0, n + 3, m, vals, 1, bStride, n, len, c, 2, len + 4),
                            c -> t.mulAddTile(p, 0, n + 3, m, vals, 1, bStride, n, len, c, 2, len + 4));
                }
            }
        }
        for (int n : LENGTHS) {
            float[] x = random(r, n + 2, 1), y = random(r, n + 1, 1);
            sameInPlace("axpy n=" + n, y, yy -> v.axpy(0.37f, x, 2, yy, 1, n), yy -> t.axpy(0.37f, x, 2, yy, 1, n));
        }
    }

    @Test
    void softmaxAndExponentials() throws Exception {
        Kernels v = vector();
        LaneOrderKernels t = twin(v);
        Random r = new Random(4);
        for (int n : LENGTHS) {
            for (float scale : new float[] {1, 10, 60}) { // 60: past e^x's clamps at −87.3 and +88.7
                float[] x = random(r, n + 1, scale);
                sameInPlace("softmax n=" + n + " ×" + scale, x, xx -> v.softmax(xx, 1, n), xx -> t.softmax(xx, 1, n));
                float[] sums = new float[2];
                sameInPlace("expShift n=" + n + " ×" + scale, x, xx -> sums[0] = v.expShift(xx, 1, n, 2.5f), xx -> sums[1] = t.expShift(xx, 1, n, 2.5f));
                same("expShift's sum n=" + n, sums[0], sums[1]);
                sameInPlace("silu n=" + n + " ×" + scale, x, xx -> v.silu(xx, 1, n), xx -> t.silu(xx, 1, n));
                sameInPlace("geluErf n=" + n + " ×" + scale, x, xx -> v.geluErf(xx, 1, n), xx -> t.geluErf(xx, 1, n));
                sameInPlace("geluTanh n=" + n + " ×" + scale, x, xx -> v.geluTanh(xx, 1, n), xx -> t.geluTanh(xx, 1, n));
            }
        }
        float[] special = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -87.34f, -87.33f, 88.72f, 88.73f, 0f, -0f,
                Float.MIN_VALUE, -1e-30f, 1e-30f, 30f, -30f, 1f, -1f};
        float[] padded = java.util.Arrays.copyOf(special, 32);
        sameInPlace("silu, special values", padded, xx -> v.silu(xx, 0, 32), xx -> t.silu(xx, 0, 32));
        sameInPlace("expShift, special values", padded, xx -> v.expShift(xx, 0, 32, 0f), xx -> t.expShift(xx, 0, 32, 0f));
    }

    @Test
    void layerNormAndRope() throws Exception {
        Kernels v = vector();
        LaneOrderKernels t = twin(v);
        Random r = new Random(5);
        for (int n : new int[] {1, 7, 16, 33, 100, 288, 1056}) {
            float[] x = random(r, n + 3, 2), g = random(r, n, 1), b = random(r, n, 1);
            sameInPlace("layernorm n=" + n, new float[n + 1], o -> v.layernorm(o, 1, x, 3, g, b, n, 1e-5f), o -> t.layernorm(o, 1, x, 3, g, b, n, 1e-5f));
            sameInPlace("layernorm, no bias, n=" + n, new float[n], o -> v.layernorm(o, 0, x, 0, g, null, n, 1e-6f), o -> t.layernorm(o, 0, x, 0, g, null, n, 1e-6f));
        }
        for (int[] shape : new int[][] {{1, 64, 64}, {3, 128, 128}, {2, 96, 64}, {2, 80, 40}, {4, 36, 36}, {2, 10, 6}}) {
            int heads = shape[0], headDim = shape[1], rotary = shape[2];
            float[] cos = random(r, rotary / 2, 1), sin = random(r, rotary / 2, 1), x = random(r, 2 + heads * headDim, 1);
            for (boolean interleaved : new boolean[] {false, true}) {
                sameInPlace("rope " + java.util.Arrays.toString(shape) + (interleaved ? " interleaved" : ""), x,
                        xx -> v.rope(xx, 2, heads, headDim, rotary, cos, sin, interleaved), xx -> t.rope(xx, 2, heads, headDim, rotary, cos, sin, interleaved));
            }
        }
    }

    /** Every one of the 65 536 half floats and bfloat16s (NaNs bit for bit too: both sides quiet them alike), at offsets that leave tails. */
    @Test
    void halfFloatWidening() throws Exception {
        Kernels v = vector();
        LaneOrderKernels t = twin(v);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment all = arena.allocate(2L * 65536 + 2, 64);
            for (int i = 0; i < 65536; i++) all.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2 + 2L * i, (short) i);
            for (int[] range : new int[][] {{0, 65536}, {5, 37}, {1, 7}}) {
                int off = range[0], n = range[1];
                float[] a = new float[n], b = new float[n];
                v.f16ToF32(all, 2 + 2L * off, a, 0, n);
                t.f16ToF32(all, 2 + 2L * off, b, 0, n);
                for (int i = 0; i < n; i++) assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "f16 " + Integer.toHexString(off + i));
                v.bf16ToF32(all, 2 + 2L * off, a, 0, n);
                t.bf16ToF32(all, 2 + 2L * off, b, 0, n);
                for (int i = 0; i < n; i++) assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "bf16 " + Integer.toHexString(off + i));
            }
        }
    }

    /**
     * The kernels {@link WarmingKernels} takes from the scalar twin during the warm-up (element-wise
     * products and sums, argmax, ReLU²) give the vector kernels' bits too.
     */
    @Test
    void elementWiseKernelsOfTheScalarTwinAreTheVectorBits() {
        Kernels v = vector();
        Kernels s = Simd.scalar();
        Random r = new Random(6);
        for (int n : LENGTHS) {
            float[] a = random(r, n + 1, 3), b = random(r, n + 1, 3);
            sameInPlace("scale n=" + n, a, x -> v.scale(x, 1, n, 0.3f), x -> s.scale(x, 1, n, 0.3f));
            sameInPlace("add n=" + n, new float[n], o -> v.add(a, 1, b, 0, o, 0, n), o -> s.add(a, 1, b, 0, o, 0, n));
            sameInPlace("mul n=" + n, new float[n], o -> v.mul(a, 1, b, 0, o, 0, n), o -> s.mul(a, 1, b, 0, o, 0, n));
            sameInPlace("reluSquared n=" + n, a, x -> v.reluSquared(x, 1, n), x -> s.reluSquared(x, 1, n));
            assertEquals(v.argmax(a, 1, n), s.argmax(a, 1, n), "argmax n=" + n);
        }
        float[] ties = {-0f, 0f, Float.NaN, 3f, Float.NaN, 3f, -0f, 1f, 0f, 3f, 2f, 1f, 0f, -5f, 3f, 2f, 1f, 3f, Float.NaN};
        for (int n = 0; n <= ties.length; n++) assertEquals(v.argmax(ties, 0, n), s.argmax(ties, 0, n), "argmax of ties and NaNs, n=" + n);
        float[] nans = new float[40];
        java.util.Arrays.fill(nans, Float.NaN);
        assertEquals(v.argmax(nans, 0, 40), s.argmax(nans, 0, 40), "argmax of NaNs only");
    }

    /**
     * {@link WarmingKernels} overrides every method of {@link Kernels}, defaults included: a default it
     * inherited would run on the wrapper's own methods — twins for some steps, vector kernels for
     * others — and give neither side's bits. A method added to Kernels must be routed there.
     */
    @Test
    void warmingKernelsRouteEveryKernel() throws Exception {
        for (java.lang.reflect.Method m : Kernels.class.getMethods()) {
            if (java.lang.reflect.Modifier.isStatic(m.getModifiers())) continue;
            java.lang.reflect.Method own = WarmingKernels.class.getMethod(m.getName(), m.getParameterTypes());
            assertEquals(WarmingKernels.class, own.getDeclaringClass(), "WarmingKernels does not route " + m);
        }
    }

    /**
     * {@link WarmingKernels} gives the vector kernels' bits before and after it switches; the deadline
     * switches every family; with the background thread, the warm-up ends with every family on the
     * vector kernels.
     */
    @Test
    void warmingKernelsGiveTheVectorBitsOnEitherSide() throws Exception {
        Kernels v = vector();
        WarmingKernels k = new WarmingKernels(v, twin(v), 1024, false);
        assertFalse(k.warm());
        Random r = new Random(7);
        try (Arena arena = Arena.ofShared()) {
            int rows = 37, cols = 300;
            MemorySegment seg = arena.allocate(4L * rows * cols, 64);
            MemorySegment.copy(random(r, rows * cols, 1), 0, seg, F32_LE, 0, rows * cols);
            float[] x = random(r, cols, 1);
            float[][] got = new float[2][];
            for (int side = 0; side < 2; side++) {
                float[] out = new float[rows];
                k.matvec(seg, 0, x, out, rows, cols);
                k.silu(out, 0, rows);
                float[] n = new float[rows];
                k.rmsnorm(n, 0, out, 0, x, rows, 1e-5f);
                k.softmax(n, 0, rows);
                got[side] = n;
                k.switchAll();
            }
            assertTrue(k.warm());
            float[] want = new float[rows], n = new float[rows];
            v.matvec(seg, 0, x, want, rows, cols);
            v.silu(want, 0, rows);
            v.rmsnorm(n, 0, want, 0, x, rows, 1e-5f);
            v.softmax(n, 0, rows);
            same("on the twins", n, got[0]);
            same("on the vector kernels", n, got[1]);
        }
        WarmingKernels background = new WarmingKernels(v, twin(v), 1024, true);
        float[] x = random(new Random(8), 300, 1), y = new float[300];
        background.silu(x.clone(), 0, 300); // a use: the warm-up warms this family, then ends
        assertTrue(background.used(WarmingKernels.Kernel.SILU) && !background.used(WarmingKernels.Kernel.MATVEC_NARROW));
        long deadline = System.nanoTime() + WarmingKernels.DEADLINE_NANOS + 30_000_000_000L;
        while (!background.warm() && System.nanoTime() < deadline) {
            System.arraycopy(x, 0, y, 0, 300);
            background.silu(y, 0, 300);
            Thread.sleep(5);
        }
        assertTrue(background.warm(), "the warm-up thread switched every family by its deadline");
        float[] want = x.clone();
        v.silu(want, 0, 300);
        System.arraycopy(x, 0, y, 0, 300);
        background.silu(y, 0, 300);
        same("silu after the warm-up", want, y);
    }

    /**
     * A family registered from another module ({@link StartUpTwins}) starts on its twins, is warmed
     * once used — the warm-up runs its workload on both sides — and switches; one registered after
     * every family switched starts on the vector kernels.
     */
    @Test
    void registeredFamiliesWarmUpAndSwitch() throws Exception {
        Kernels v = vector();
        WarmingKernels k = new WarmingKernels(v, twin(v), 1024, true);
        java.util.concurrent.atomic.AtomicInteger onVector = new java.util.concurrent.atomic.AtomicInteger(), onTwin = new java.util.concurrent.atomic.AtomicInteger();
        StartUpTwins.Family f = k.register("test", side -> (side ? onVector : onTwin).incrementAndGet());
        assertFalse(f.onVector(), "a registered family starts on its twins");
        f.use();
        long deadline = System.nanoTime() + WarmingKernels.DEADLINE_NANOS + 30_000_000_000L;
        while (!f.onVector() && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(f.onVector(), "the warm-up switched the used family");
        assertTrue(onVector.get() > 0 && onTwin.get() > 0, "its workload ran on both sides: " + onVector + " / " + onTwin);
        while (!k.warm() && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(k.warm());
        assertTrue(k.register("late", side -> {}).onVector(), "registered after the switch: on the vector kernels at once");
    }
}
