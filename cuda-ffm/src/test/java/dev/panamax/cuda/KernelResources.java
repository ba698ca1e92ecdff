package dev.panamax.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Registers, spills and stack of every kernel in kernels.cu as ptxas builds it for one GPU
 * generation, from NVRTC alone: no GPU, no driver. A kernel that spills (local memory traffic in a
 * loop that should stream weights) or that the launch bounds squeeze is seen before a device is lent.
 *
 * <pre>  tools/cuda-resources.sh [SM] [KERNEL_REGEX]      e.g. tools/cuda-resources.sh 90 'matvec'</pre>
 */
public final class KernelResources {
    private KernelResources() {}

    record Entry(String kernel, int registers, int stack, int spillStores, int spillLoads, String rest) {}

    public static void main(String[] args) {
        int sm = args.length > 0 ? Integer.parseInt(args[0]) : 90;
        Pattern filter = Pattern.compile(args.length > 1 ? args[1] : ".*");
        String log = Nvrtc.get().resourceReport("panamax_kernels.cu", CudaContext.kernelSource(), sm / 10, sm % 10);
        List<Entry> entries = parse(log);
        System.out.printf("kernels.cu for sm_%d (NVRTC %s)%n", sm, Nvrtc.get().version());
        System.out.printf("%-34s %5s %6s %7s %7s  %s%n", "kernel", "regs", "stack", "spill>", "spill<", "");
        for (Entry e : entries) {
            if (!filter.matcher(e.kernel).find()) continue;
            System.out.printf("%-34s %5d %6d %7d %7d  %s%n", e.kernel, e.registers, e.stack, e.spillStores, e.spillLoads, e.rest);
        }
    }

    /** The ptxas -v log's entries: "Function properties for K" then the stack line, then "Used N registers, ...". */
    static List<Entry> parse(String log) {
        List<Entry> out = new ArrayList<>();
        Pattern props = Pattern.compile("Function properties for (\\S+)");
        Pattern frame = Pattern.compile("(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads");
        Pattern used = Pattern.compile("Used (\\d+) registers,?\\s*(.*)");
        String kernel = null;
        int stack = 0, st = 0, ld = 0;
        for (String line : log.split("\n")) {
            Matcher m;
            if ((m = props.matcher(line)).find()) {
                kernel = m.group(1);
                stack = st = ld = 0;
            } else if (kernel != null && (m = frame.matcher(line)).find()) {
                stack = Integer.parseInt(m.group(1));
                st = Integer.parseInt(m.group(2));
                ld = Integer.parseInt(m.group(3));
            } else if (kernel != null && (m = used.matcher(line)).find()) {
                out.add(new Entry(kernel, Integer.parseInt(m.group(1)), stack, st, ld, m.group(2).trim()));
                kernel = null;
            }
        }
        return out;
    }
}
