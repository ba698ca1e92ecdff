package dev.panamax.simd;

import java.lang.foreign.MemorySegment;

/** Shape checks shared by both kernel paths: a wrong shape is an exception naming it, never a wrong read. */
final class Checks {
    private Checks() {}

    static void matrix(MemorySegment w, long byteOff, int rows, int cols, int xLength, int outLength) {
        matrix(w, byteOff, 4, rows, cols, xLength, outLength);
    }

    static void matrix(MemorySegment w, long byteOff, int elementBytes, int rows, int cols, int xLength, int outLength) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        long need = byteOff + (long) elementBytes * rows * cols;
        if (byteOff < 0 || need > w.byteSize()) {
            throw new IllegalArgumentException("matrix [" + rows + ", " + cols + "] at byte " + byteOff
                    + " does not fit in a segment of " + w.byteSize() + " bytes");
        }
        if (xLength < cols) throw new IllegalArgumentException("vector of " + xLength + " floats for " + cols + " columns");
        if (outLength < rows) throw new IllegalArgumentException("output of " + outLength + " floats for " + rows + " rows");
    }

    /** x [B, cols] and out [B, rows] of a batched matrix × vector. */
    static void batch(int B, int cols, int rows, int xLength, int outLength) {
        if (B < 0) throw new IllegalArgumentException("negative batch " + B);
        if ((long) B * cols > xLength) throw new IllegalArgumentException("x holds " + xLength + " floats, " + B + " vectors of " + cols + " need " + (long) B * cols);
        if ((long) B * rows > outLength) throw new IllegalArgumentException("out holds " + outLength + " floats, " + B + " results of " + rows + " need " + (long) B * rows);
    }

    static void gemm(int aLength, int cLength, int m, int n, int k) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative shape m=" + m + " n=" + n + " k=" + k);
        if ((long) m * k > aLength) throw new IllegalArgumentException("A holds " + aLength + " floats, needs " + (long) m * k);
        if ((long) m * n > cLength) throw new IllegalArgumentException("C holds " + cLength + " floats, needs " + (long) m * n);
    }

    /** A block of m rows stacked from whole items of {@code itemRows} rows. */
    static void stack(int m, int itemRows) {
        if (itemRows <= 0 || m % itemRows != 0) throw new IllegalArgumentException(m + " rows are not whole items of " + itemRows + " rows");
    }

    static void rope(int headDim, int rotaryDim, float[] cos, float[] sin) {
        if (rotaryDim < 0 || rotaryDim > headDim || (rotaryDim & 1) != 0) {
            throw new IllegalArgumentException("rotaryDim " + rotaryDim + " must be even and at most headDim " + headDim);
        }
        if (cos.length < rotaryDim / 2 || sin.length < rotaryDim / 2) {
            throw new IllegalArgumentException("cos/sin tables need " + rotaryDim / 2 + " angles");
        }
    }
}
