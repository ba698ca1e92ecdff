import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Simd;
import java.nio.*; import java.nio.file.*; import java.util.*;
/**
 * Compares Panamax's dequantization of every tensor in GGUF files with numpy dumps made by
 * llama.cpp's gguf-py (tools/llamacpp-check.sh writes them): bit for bit.
 * Usage: java -cp cli/target/panamax.jar tools/DequantCheck.java DUMPDIR FILE.gguf...
 */
public class DequantCheck {
  static float[] npy(Path p) throws Exception {
    byte[] b = Files.readAllBytes(p); int hl = (b[8] & 0xff) | (b[9] & 0xff) << 8; int off = 10 + hl;
    FloatBuffer fb = ByteBuffer.wrap(b, off, b.length - off).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] f = new float[fb.remaining()]; fb.get(f); return f;
  }
  public static void main(String[] a) throws Exception {
    int failures = 0;
    for (String file : java.util.Arrays.copyOfRange(a, 1, a.length)) {
      Gguf g = Gguf.read(Path.of(file)); String base = a[0] + "/" + Path.of(file).getFileName().toString().replace(".gguf", "") + ".txt";
      Map<String, int[]> stats = new TreeMap<>();
      for (Tensor t : g.weights().all().values()) {
        float[] mine = t.toFloats(Simd.kernels()); float[] ref = npy(Path.of(base + "." + t.name() + ".npy"));
        int bad = 0; for (int i = 0; i < ref.length; i++) if (Float.floatToIntBits(mine[i]) != Float.floatToIntBits(ref[i])) bad++;
        if (mine.length != ref.length) bad = -1;
        stats.computeIfAbsent(t.type().toString(), k -> new int[2]); stats.get(t.type().toString())[0]++; if (bad != 0) { failures++; stats.get(t.type().toString())[1]++; System.out.println("  MISMATCH " + t.name() + " " + t.type() + " " + bad + " of " + ref.length); }
      }
      System.out.println(Path.of(file).getFileName() + ": " + stats.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()[0] + " tensors, " + e.getValue()[1] + " differ").toList());
      g.weights().close();
    }
    System.exit(failures == 0 ? 0 : 1);
  }
}
