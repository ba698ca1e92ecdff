package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** bench's first line: the CPU model and its vector features, from /proc/cpuinfo's first processor. */
class CpuInfoTest {

    @Test
    void namesTheModelAndTheFeaturesThatMatter() {
        String intel = """
                processor	: 0
                vendor_id	: GenuineIntel
                cpu family	: 6
                model		: 143
                model name	: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
                flags		: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8 avx_vnni

                processor	: 1
                model name	: something else
                """;
        CpuInfo c = CpuInfo.parse(intel, "amd64", "UseAVX=3, SIMD vector");
        assertEquals("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz (family 6, model 143)", c.model());
        assertEquals(List.of("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
                "amx_int8", "amx_bf16"), c.features());
        assertEquals("cpu: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz (family 6, model 143); avx2 fma avx512f avx512bw avx512vl avx512_vnni "
                + "avx_vnni avx512_bf16 avx512_fp16 amx_tile amx_int8 amx_bf16; JVM: UseAVX=3, SIMD vector", c.line());

        CpuInfo arm = CpuInfo.parse("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve i8mm bf16\nCPU implementer\t: 0x41\n", "aarch64", "SIMD vector");
        assertEquals("aarch64", arm.model());
        assertEquals(List.of("asimd", "asimddp", "sve", "i8mm", "bf16"), arm.features());

        assertEquals("cpu: riscv64; no vector features named; JVM: SIMD scalar", CpuInfo.parse("", "riscv64", "SIMD scalar").line());
    }
}
