import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.tensor.Tensor;
import java.nio.file.*; import java.lang.foreign.*;
/**
 * Compares the quantized tensors of two GGUF files byte for byte (Panamax's `convert --type q8_0`
 * against llama.cpp's llama-quantize on the same F32 file).
 * Usage: java -cp cli/target/panamax.jar tools/QuantizeCheck.java OURS.gguf THEIRS.gguf
 */
public class QuantizeCheck {
  public static void main(String[] a) throws Exception {
    Gguf ours = Gguf.read(Path.of(a[0])), theirs = Gguf.read(Path.of(a[1]));
    int same = 0, diff = 0;
    for (Tensor t : ours.weights().all().values()) {
      Tensor u = theirs.weights().find(t.name());
      if (u == null || u.type() != t.type() || !t.type().quantized()) continue;
      long m = t.data().mismatch(u.data());
      if (m == -1) same++; else { diff++; System.out.println("  differs: " + t.name() + " " + t.type() + " at byte " + m); }
    }
    System.out.println(a[0] + " vs " + a[1] + ": " + same + " quantized tensors identical, " + diff + " differ");
    System.exit(diff == 0 && same > 0 ? 0 : 1);
  }
}
