package dev.panamax.proptest;

import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;

/**
 * The two sides every property compares: the path this JVM runs ({@link Simd#kernels()}: the
 * Vector API in the default test run, the scalar twin in the run without jdk.incubator.vector),
 * and the scalar twin that defines the contract. Float64 references are the third side.
 */
final class Paths {
    private Paths() {}

    static Kernels active() {
        return Simd.kernels();
    }

    static Kernels scalar() {
        return Simd.scalar();
    }
}
