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
    void q5_0QuantizerLayout() {
        float[] x = new float[32];
        x[0] = -16;  // the largest magnitude, negative: d = −16/−16 = 1, code 0
        x[16] = 16;  // 16 + 16.5 → clamps to code 31 (value 15)
        x[5] = 3;    // 19.5 → code 19: low nibble 3, fifth bit set
        x[20] = -7;  // 9.5 → code 9
        MemorySegment q = MemorySegment.ofArray(new byte[22]);
        Q5_0Block.quantize(x, 0, 32, q, 0);
        assertEquals(Float.floatToFloat16(1f), q.get(Q8_0Block.F16, 0));
        int qh = q.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2);
        assertEquals(1 << 5 | 1 << 16, qh & (1 << 5 | 1 << 16 | 1 << 20 | 1 << 0), "fifth bits of x[5] and x[16] only");
        assertEquals((byte) (0 | (15 << 4)), q.get(ValueLayout.JAVA_BYTE, 6));      // x[0] low, x[16] high
        assertEquals((byte) 3, q.get(ValueLayout.JAVA_BYTE, 6 + 5));               // x[5] low, x[21] = 0 → code 16 high
        assertEquals((byte) (9 << 4), q.get(ValueLayout.JAVA_BYTE, 6 + 4));        // x[4] = 0 → 16 low, x[20] high
        float[] back = new float[32];
        Q5_0Block.dequantize(q, 0, back, 0, 32);
        assertEquals(-16f, back[0]);
        assertEquals(15f, back[16]);
        assertEquals(3f, back[5]);
        assertEquals(-7f, back[20]);
        assertEquals(0f, back[1]);
    }

    @Test
    void iq4_nlQuantizerTakesTheNearestLevel() {
        float[] x = new float[32];
        x[0] = -127;  // d = −127/−127 = 1: level 0
        x[16] = 127;  // nearest level 113 (index 15)
        x[3] = 0.4f;  // nearest 1 (index 8)
        x[4] = -50;   // nearest −49 (index 4)
        MemorySegment q = MemorySegment.ofArray(new byte[18]);
        IQ4_NLBlock.quantize(x, 0, 32, q, 0);
        assertEquals(Float.floatToFloat16(1f), q.get(Q8_0Block.F16, 0));
        assertEquals((byte) (0 | 15 << 4), q.get(ValueLayout.JAVA_BYTE, 2));
        float[] back = new float[32];
        IQ4_NLBlock.dequantize(q, 0, back, 0, 32);
        assertEquals(-127f, back[0]);
        assertEquals(113f, back[16]);
        assertEquals(1f, back[3]);
        assertEquals(-49f, back[4]);
        assertEquals(1f, back[1], "0 is nearest to level 1");
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
        assertEquals(want, Q8_0Block.dotReference(wq, 0, Q8_KBlock.quantize(x, 64, 32), 64), 1e-4);
        float[] out = new float[1];
        QuantizedMatvec.matvec(dev.panamax.quant.BlockFormat.Q8_0, wq, 0, x, out, 1, 64);
        assertEquals(want, out[0], 1e-4);
    }

    private static MemorySegment block(int bytes) {
        return MemorySegment.ofArray(new byte[bytes]);
    }

    private static void f16(MemorySegment s, long off, float v) {
        s.set(Q8_0Block.F16, off, Float.floatToFloat16(v));
    }

    @Test
    void q4_1AndQ5_0AndQ5_1AndIq4NlBlocksByHand() {
        // Q4_1: d = 0.5, m = −1; byte 3 = 0x2A → x[3] = 0.5·10 − 1 = 4, x[19] = 0.5·2 − 1 = 0.
        MemorySegment a = block(20);
        f16(a, 0, 0.5f);
        f16(a, 2, -1f);
        a.set(ValueLayout.JAVA_BYTE, 4 + 3, (byte) 0x2A);
        float[] y = new float[32];
        BlockFormat.Q4_1.dequantize(a, 0, y, 0, 32);
        assertEquals(4f, y[3]);
        assertEquals(0f, y[19]);
        assertEquals(-1f, y[0]);
        // Q5_0: d = 2; qh bit 3 and bit 19 set; byte 3 = 0x21 → x[3] = 2·((1|16) − 16) = 2, x[19] = 2·((2|16) − 16) = 4.
        MemorySegment b = block(22);
        f16(b, 0, 2f);
        b.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2, (1 << 3) | (1 << 19));
        b.set(ValueLayout.JAVA_BYTE, 6 + 3, (byte) 0x21);
        BlockFormat.Q5_0.dequantize(b, 0, y, 0, 32);
        assertEquals(2f, y[3]);
        assertEquals(4f, y[19]);
        assertEquals(-32f, y[0]); // code 0 − 16, times 2
        // Q5_1: the same codes with d = 1, m = 0.5: x[3] = 17.5, x[19] = 18.5.
        MemorySegment c = block(24);
        f16(c, 0, 1f);
        f16(c, 2, 0.5f);
        c.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 4, (1 << 3) | (1 << 19));
        c.set(ValueLayout.JAVA_BYTE, 8 + 3, (byte) 0x21);
        BlockFormat.Q5_1.dequantize(c, 0, y, 0, 32);
        assertEquals(17.5f, y[3]);
        assertEquals(18.5f, y[19]);
        // IQ4_NL: d = 1; byte 0 = 0xF0 → x[0] = TABLE[0] = −127, x[16] = TABLE[15] = 113.
        MemorySegment d = block(18);
        f16(d, 0, 1f);
        d.set(ValueLayout.JAVA_BYTE, 2, (byte) 0xF0);
        BlockFormat.IQ4_NL.dequantize(d, 0, y, 0, 32);
        assertEquals(-127f, y[0]);
        assertEquals(113f, y[16]);
    }

    @Test
    void ternaryBlocksByHand() {
        float[] y = new float[256];
        // TQ2_0: d = 3; byte 0 = 0b10_01_00_10 → values 0, 32, 64, 96 = codes 2, 0, 1, 2 → 3, −3, 0, 3.
        MemorySegment t2 = block(66);
        f16(t2, 64, 3f);
        t2.set(ValueLayout.JAVA_BYTE, 0, (byte) 0b10_01_00_10);
        BlockFormat.TQ2_0.dequantize(t2, 0, y, 0, 256);
        assertEquals(3f, y[0]);
        assertEquals(-3f, y[32]);
        assertEquals(0f, y[64]);
        assertEquals(3f, y[96]);
        // TQ1_0: five ternary digits (d0..d4) = (2, 0, 1, 1, 0) are the base-3 number 2·81 + 9 + 3 = 174,
        // stored as the fraction ⌈174·256/243⌉ = 184.
        MemorySegment t1 = block(54);
        f16(t1, 52, 1f);
        t1.set(ValueLayout.JAVA_BYTE, 0, (byte) 184);
        BlockFormat.TQ1_0.dequantize(t1, 0, y, 0, 256);
        assertEquals(1f, y[0]);    // digit 2 → +1, value 0
        assertEquals(-1f, y[32]);  // digit 0 → −1, value 32
        assertEquals(0f, y[64]);   // digit 1 → 0
        assertEquals(0f, y[96]);
        assertEquals(-1f, y[128]);
        assertEquals(-1f, y[1]);   // byte 1 is 0: all digits 0
    }

    @Test
    void q6_kBlockByHand() {
        // d = 0.25, scale of sub-block 0 = 4; value 0: low nibble 5 of ql[0], high bits 2 of qh[0] → code 37 → (37 − 32)·4·0.25 = 5.
        MemorySegment q = block(210);
        f16(q, 208, 0.25f);
        q.set(ValueLayout.JAVA_BYTE, 192, (byte) 4);
        q.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x05);
        q.set(ValueLayout.JAVA_BYTE, 128, (byte) 0x02);
        float[] y = new float[256];
        BlockFormat.Q6_K.dequantize(q, 0, y, 0, 256);
        assertEquals(5f, y[0]);
        assertEquals(-32f, y[1]); // code 0 elsewhere: (0 − 32)·4·0.25
    }
}
