package dev.panamax.runtime.tensor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Large load-time copies (a quantized matrix in its decode layout) on Linux: anonymous memory from
 * the kernel (mmap), marked for transparent huge pages (madvise MADV_HUGEPAGE), so that the copy
 * faults in 2 MiB pages instead of 4 KiB ones and nothing zeroes the memory but the kernel — where
 * {@link Arena#allocate} zero-fills it first, and a 1 GB model's copy spent most of its load time in
 * page faults and that fill. Unmapped when the arena closes. Elsewhere, or where this module may not
 * call native code ({@code --enable-native-access}), the arena's own allocation.
 */
final class LargeMemory {
    private LargeMemory() {}

    private static final long HUGE = 2L << 20;
    private static final MethodHandle MMAP, MADVISE, MUNMAP;

    static {
        MethodHandle mmap = null, madvise = null, munmap = null;
        try {
            if (System.getProperty("os.name", "").equals("Linux") && LargeMemory.class.getModule().isNativeAccessEnabled()
                    && dev.panamax.simd.Tuning.flagOn("hugePages")) {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            }
        } catch (RuntimeException | LinkageError e) {
            mmap = madvise = munmap = null;
        }
        MMAP = mmap;
        MADVISE = madvise;
        MUNMAP = munmap;
    }

    /** {@code bytes} of memory aligned to 64 bytes, owned by {@code arena}; contents unspecified where mmap served them (zeros in fact). */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP == null || bytes < HUGE) return arena.allocate(bytes, 64);
        long length = bytes + HUGE; // room to start on a 2 MiB boundary, where huge pages can back it
        MemorySegment base;
        try {
            // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
            base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length, 0x3, 0x22, -1, 0L);
        } catch (Throwable t) {
            return arena.allocate(bytes, 64);
        }
        long address = base.address();
        if (address == -1L || address == 0) return arena.allocate(bytes, 64); // MAP_FAILED
        long start = (address + HUGE - 1) & -HUGE;
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), bytes / HUGE * HUGE, 14); // MADV_HUGEPAGE; a refusal only costs speed
        } catch (Throwable t) {
            // small pages, then
        }
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena, s -> {
            try {
                int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
            } catch (Throwable t) {
                // nothing to do at close
            }
        });
    }
}
