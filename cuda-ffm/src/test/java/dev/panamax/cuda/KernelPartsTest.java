package dev.panamax.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * kernels.cu is built in parts (CudaContext.function): every kernel must sit inside one part's
 * guard, or no part would define it and its launch would fail — checked here without a GPU, on
 * the source text, in CI.
 */
class KernelPartsTest {

    @Test
    void everyKernelIsInExactlyOnePart() {
        String source = CudaContext.kernelSource();
        Map<String, Integer> parts = CudaContext.kernelParts(source);
        // Every kernel of the file, guarded or not: extern "C" kernels outside macro bodies, and the kernel macros' instances.
        Set<String> all = new TreeSet<>();
        Pattern direct = Pattern.compile("^extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\) )?(\\w+)\\(");
        Pattern instance = Pattern.compile("^(MATVEC|MATVEC_MULTI|MATVEC_ROWS|MMA_KERNEL|ROPE_STORE|ATTENTION_PARTIAL|ATTENTION_PROMPT|ATTENTION_DECODE|ATTENTION_DECODE_ROWS)\\((\\w+),");
        String previous = "";
        for (String line : source.split("\n")) {
            if (!previous.stripTrailing().endsWith("\\")) {
                Matcher d = direct.matcher(line), m = instance.matcher(line);
                if (d.find()) all.add(d.group(1));
                else if (m.find()) all.add(m.group(2));
            }
            previous = line;
        }
        assertTrue(all.size() > 50, "kernels found: " + all);
        assertEquals(all, new TreeSet<>(parts.keySet()), "kernels outside a part's #if PANAMAX_PART_IS(n) guard");
        // The kernels every decode launches are in small parts of their own, apart from the batched-step ones.
        assertEquals(parts.get("matvec_f16"), parts.get("matvec_q4_0"));
        assertTrue(!parts.get("matvec_f16").equals(parts.get("matvec4_f16")), "the batched-step matvec builds apart");
        assertTrue(!parts.get("attention_decode_64").equals(parts.get("attention_decode_rows_64")));
        assertTrue(new TreeSet<>(parts.values()).size() >= 6, parts.toString());
    }
}
