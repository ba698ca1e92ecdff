import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.QuantizedMatvec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Best-of timing of one quantized matvec, the harness behind the kernel figures in jmh/README.md
 * (JMH's means move with this shared machine's neighbours; the best of many runs shows the kernel).
 * Random code bytes and a sane f16 scale at the start of every block (the kernels' speed does not
 * depend on the values). A matrix of a few MB stays in the L3 cache: compare formats, and compare
 * against STREAM only with a matrix larger than the caches.
 * Q8_0, Q4_0, Q4_K and Q6_K are timed in the file's layout and, alternating, in the interleaved
 * layout the CPU decodes with ({@code QuantizedMatvec.matvecInterleaved}).
 * Usage: java --add-modules jdk.incubator.vector -Dpanamax.threads=1 [-Dpanamax.experiments=true -Dpanamax.quant.vectorBits=256]
 *          -cp cli/target/panamax.jar tools/QuantMatvecBest.java FORMAT ROWS COLS [SECONDS]
 */
public class QuantMatvecBest {
    public static void main(String[] a) {
        BlockFormat f = BlockFormat.valueOf(a[0]);
        int rows = Integer.parseInt(a[1]), cols = Integer.parseInt(a[2]);
        double seconds = a.length > 3 ? Double.parseDouble(a[3]) : 3;
        long bytes = (long) rows * cols / f.size * f.bytes;
        MemorySegment w = Arena.global().allocate(bytes, 64);
        SplittableRandom r = new SplittableRandom(1);
        for (long i = 0; i < bytes; i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        int scaleAt = f == BlockFormat.Q6_K ? 208 : 0; // where each format keeps its f16 scale (Q4_K/Q5_K: d, then dmin)
        for (long b = 0; b < bytes / f.bytes; b++) {
            w.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * f.bytes + scaleAt, Float.floatToFloat16(0.01f));
            if (f == BlockFormat.Q4_K || f == BlockFormat.Q5_K) w.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * f.bytes + 2, Float.floatToFloat16(0.01f));
        }
        float[] x = new float[cols], out = new float[rows];
        for (int i = 0; i < cols; i++) x[i] = (float) r.nextGaussian();
        MemorySegment p = null;
        if (QuantizedMatvec.interleaves(f, rows, cols)) {
            p = Arena.global().allocate(QuantizedMatvec.interleavedBytes(f, rows, cols), 64);
            if (!QuantizedMatvec.interleave(f, w, 0, rows, cols, p)) p = null;
        }
        double best = Double.MAX_VALUE, bestInterleaved = Double.MAX_VALUE;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            long t0 = System.nanoTime();
            QuantizedMatvec.matvec(f, w, 0, x, out, rows, cols);
            long t1 = System.nanoTime();
            if (p != null) QuantizedMatvec.matvecInterleaved(f, p, x, out, rows, cols);
            best = Math.min(best, (t1 - t0) / 1e9);
            bestInterleaved = Math.min(bestInterleaved, (System.nanoTime() - t1) / 1e9);
        }
        System.out.printf("%s %d x %d (%s): best %.3f ms, %.1f GB/s%n", f, rows, cols, QuantizedMatvec.description(), best * 1e3, bytes / best / 1e9);
        if (p != null) {
            System.out.printf("%s %d x %d interleaved by %d rows: best %.3f ms, %.1f GB/s (of the file's bytes)%n", f, rows, cols, QuantizedMatvec.interleavedGroupRows(f),
                    bestInterleaved * 1e3, bytes / bestInterleaved / 1e9);
        }
    }
}
