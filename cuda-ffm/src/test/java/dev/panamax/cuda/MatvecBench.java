package dev.panamax.cuda;

import dev.panamax.runtime.tensor.DType;
import java.lang.foreign.Arena;
import java.util.Random;

/**
 * GPU time of the decode matvec on TinyLlama-1.1B's shapes, each launch on a different copy of the
 * matrix so that nothing comes from the L2 cache, per launch configuration (rows per
 * block, loads per batch, with or without the fused RMSNorm), as weight bytes streamed per second: what
 * {@code tools/gpu.sh run matvec} prints. Each configuration's launches are captured as a graph and timed by events.
 */
public final class MatvecBench {
    public static void main(String[] args) {
        CudaContext cx = CudaContext.get();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(1);
        int[][] shapes = {{2560, 2048}, {2048, 2048}, {11264, 2048}, {2048, 5632}, {32000, 2048}};
        String[] names = {"qkv", "o", "gate/up", "down", "output"};
        DType type = args.length > 0 ? DType.valueOf(args[0]) : DType.F16;
        String[] configs = args.length > 1 ? args[1].split(",") : new String[] {"16x4", "16x8", "8x4", "32x4", "16x16"};
        Driver d = cx.driver;
        long stream = d.createStream(), e0 = d.createEvent(), e1 = d.createEvent();
        System.out.printf("%-8s %-6s", "shape", "MB");
        for (String c : configs) System.out.printf(" %10s", c);
        System.out.println("   (GB/s/us a launch; config = rows per block x loads per batch, n: no fused norm)");
        System.out.printf("%-15s", "registers");
        for (String c : configs) {
            set(c);
            System.out.printf(" %10d", d.functionAttribute(cx.function(CudaOps.matvecKernel(DeviceMatrix.upload(cx, Arena.ofAuto(),
                    Gpu.tensor(type, 1, 64, new float[64])))), Driver.FUNC_NUM_REGS));
        }
        System.out.println();
        for (int i = 0; i < shapes.length; i++) {
            if (args.length > 2 && !names[i].equals(args[2])) continue; // one shape only (for Nsight Compute)
            int rows = shapes[i][0], cols = shapes[i][1];
            try (Arena a = Arena.ofConfined()) {
                // Copies enough that they do not fit the 50 MB L2 together: each launch streams from memory, as in decoding.
                var t = Gpu.tensor(type, rows, cols, Gpu.random(r, rows * cols, 0.05f));
                DeviceMatrix W = DeviceMatrix.upload(cx, a, t);
                int copies = (int) Math.max(1, (256L << 20) / W.bytes + 1);
                DeviceMatrix[] Ws = new DeviceMatrix[copies];
                Ws[0] = W;
                for (int k = 1; k < copies; k++) Ws[k] = DeviceMatrix.upload(cx, a, t);
                long x = cx.upload(a, Gpu.random(r, cols, 1f)), nw = cx.upload(a, Gpu.random(r, cols, 1f)), y = cx.allocate(a, 4L * rows);
                System.out.printf("%-8s %-6.1f", names[i], W.bytes / 1e6);
                for (String c : configs) {
                    set(c);
                    // 100 launches captured as one graph (so the host's launch rate does not count), replayed 5 times.
                    int n = 100;
                    long norm = c.endsWith("n") ? 0 : nw; // "n": no fused RMSNorm
                    ops.matvec(stream, W, x, norm, 0, 1e-5f, 0, y, false);
                    d.beginCapture(stream);
                    for (int k = 0; k < n; k++) ops.matvec(stream, Ws[k % copies], x, norm, 0, 1e-5f, 0, y, false);
                    long[] g = d.endCaptureAndInstantiate(stream);
                    d.launchGraph(g[1], stream);
                    d.record(e0, stream);
                    for (int k = 0; k < 5; k++) d.launchGraph(g[1], stream);
                    d.record(e1, stream);
                    double us = d.elapsedMillis(e0, e1) * 1e3 / (5 * n);
                    d.destroyGraph(g[0], g[1]);
                    System.out.printf(" %6.0f/%4.1f", W.bytes / us / 1e3, us);
                }
                System.out.println();
            }
        }
        System.clearProperty("panamax.cuda.matvecRows");
        System.clearProperty("panamax.cuda.matvecBatch");
    }

    private static void set(String config) {
        String[] p = config.replace("n", "").split("x");
        System.setProperty("panamax.experiments", "true"); // rows and batch are kernel experiments (dev.panamax.simd.Tuning)
        System.setProperty("panamax.cuda.matvecRows", p[0]);
        System.setProperty("panamax.cuda.matvecBatch", p[1]);
    }
}
