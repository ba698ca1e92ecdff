package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.Simd;
import net.jqwik.api.Example;

/**
 * Proves which path the properties ran on: Maven runs this module twice, once with
 * jdk.incubator.vector (expect "vector") and once without it (expect "scalar").
 */
class ActivePathTest {

    @Example
    void theExpectedPathIsActive() {
        String expected = System.getProperty("panamax.expect.simd");
        assertThat(expected).as("run through Maven, which sets panamax.expect.simd").isNotNull();
        assertThat(Paths.active().name()).as(Simd.description()).isEqualTo(expected);
        if (expected.equals("scalar")) {
            assertThat(Simd.vector()).as("without the module the Vector API must be unavailable").isEmpty();
            assertThat(Simd.description()).contains("jdk.incubator.vector");
            assertThat(dev.panamax.quant.QuantizedMatvec.description()).isEqualTo("scalar");
        } else {
            assertThat(Paths.active().vectorBits()).isGreaterThanOrEqualTo(128);
            if (Paths.active().vectorBits() >= 256) assertThat(dev.panamax.quant.QuantizedMatvec.description()).startsWith("vector");
        }
    }
}
