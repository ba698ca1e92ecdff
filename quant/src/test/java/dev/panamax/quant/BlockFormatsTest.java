package dev.panamax.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Block layouts worked out by hand from ggml's reference quantizers. */
class BlockFormatsTest {

    @Test
    void q8_0LayoutAndRounding() {
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = i - 16; // amax 16: d = 16/127
        x[1] = -14.5f * 16 / 127; // exactly −14.5 steps: C's roundf gives −15 (away from zero)
        MemorySegment q = MemorySegment.ofArray(new byte[34]);
        Q8_0Block.quantize(x, 0, 32, q, 0);
        assertEquals(Float.floatToFloat16(16f / 127), q.get(Q8_0Block.F16, 0));
        assertEquals(-127, q.get(ValueLayout.JAVA_BYTE, 2));      // −16 / d
        assertEquals(-15, q.get(ValueLayout.JAVA_BYTE, 3));
        assertEquals(0, q.get(ValueLayout.JAVA_BYTE, 2 + 16));    // 0
        assertEquals(119, q.get(ValueLayout.JAVA_BYTE, 2 + 31));  // 15 · 127/16 = 119.06
        float[] back = new float[32];
        Q8_0Block.dequantize(q, 0, back, 0, 32);
        assertEquals(-16f, back[0], 0.01f);
    }

    @Test
    void q4_0LayoutNibblesAndClamp() {
        float[] x = new float[32];
        x[0] = -8;   // the largest magnitude, negative: d = −8/−8 = 1, code 0
        x[16] = 8;   // +8 / d = 8 → 16.5 → clamps to code 15 (value 7)
        x[5] = 3;    // code 11
        MemorySegment q = MemorySegment.ofArray(new byte[18]);
        Q4_0Block.quantize(x, 0, 32, q, 0);
        assertEquals(Float.floatToFloat16(1f), q.get(Q8_0Block.F16, 0));
        assertEquals((byte) (0 | (15 << 4)), q.get(ValueLayout.JAVA_BYTE, 2));     // x[0] low, x[16] high
        assertEquals((byte) (11 | (8 << 4)), q.get(ValueLayout.JAVA_BYTE, 2 + 5)); // x[5] low, x[21] = 0 → code 8
        float[] back = new float[32];
        Q4_0Block.dequantize(q, 0, back, 0, 32);
        assertEquals(-8f, back[0]);
        assertEquals(7f, back[16]);
        assertEquals(3f, back[5]);
    }

    @Test
    void integerDotsMatchTheDequantizedProduct() {
        float[] w = new float[64], x = new float[64];
        for (int i = 0; i < 64; i++) {
            w[i] = (i % 7) - 3;
            x[i] = (i % 5) - 2;
        }
        MemorySegment wq = MemorySegment.ofArray(new byte[2 * 34]), xq = MemorySegment.ofArray(new byte[2 * 34]);
        Q8_0Block.quantize(w, 0, 64, wq, 0);
        Q8_0Block.quantize(x, 0, 64, xq, 0);
        float[] wd = new float[64], xd = new float[64];
        Q8_0Block.dequantize(wq, 0, wd, 0, 64);
        Q8_0Block.dequantize(xq, 0, xd, 0, 64);
        double want = 0;
        for (int i = 0; i < 64; i++) want += wd[i] * xd[i];
        assertEquals(want, Q8_0Block.dotReference(wq, 0, xq, 0, 64), 1e-4);
        float[] out = new float[1];
        QuantizedMatvec.matvec(QuantizedMatvec.Format.Q8_0, wq, 0, x, out, 1, 64);
        assertEquals(want, out[0], 1e-4);
    }
}
