import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Best-of timing of one F32, F16 or BF16 matvec ({@code Kernels.matvec}, {@code matvec16}): the
 * harness behind the row-order figures in VectorKernels and DEVELOPERS.md. The weights are an
 * allocated buffer (values do not matter to the speed); make it larger than the caches (128 MB:
 * e.g. 16384 × 2048 F32) to time the memory streams, and alternate builds or settings
 * ({@code -Dpanamax.experiments=true -Dpanamax.matvec.fourApartFrom=N}) run after run: this machine's neighbours move every figure.
 * Usage: java --add-modules jdk.incubator.vector -Dpanamax.threads=1
 *          -cp cli/target/panamax.jar tools/MatvecBest.java F32|F16|BF16 ROWS COLS [SECONDS]
 */
public class MatvecBest {
    public static void main(String[] a) {
        String type = a[0];
        int rows = Integer.parseInt(a[1]), cols = Integer.parseInt(a[2]);
        double seconds = a.length > 3 ? Double.parseDouble(a[3]) : 3;
        int width = type.equals("F32") ? 4 : 2;
        boolean bf16 = type.equals("BF16");
        long n = (long) rows * cols;
        MemorySegment w = Arena.global().allocate(width * n, 64);
        for (long i = 0; i < n; i++) {
            float v = (i % 13) * 0.01f;
            if (width == 4) w.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
            else w.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, bf16 ? (short) (Float.floatToRawIntBits(v) >>> 16) : Float.floatToFloat16(v));
        }
        Kernels k = Simd.kernels();
        float[] x = new float[cols], out = new float[rows];
        for (int i = 0; i < cols; i++) x[i] = (i % 7) * 0.1f;
        long best = Long.MAX_VALUE, end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            long t = System.nanoTime();
            if (width == 4) k.matvec(w, 0, x, out, rows, cols);
            else k.matvec16(w, 0, bf16, x, out, rows, cols);
            best = Math.min(best, System.nanoTime() - t);
        }
        System.out.printf("%s %d x %d, %s: best %.3f ms, %.1f GB/s%n", type, rows, cols, Simd.description(), best / 1e6, (double) width * n / best);
    }
}
