package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.LinearScan;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** h[t] = a[t]·h[t−1] + b[t]: the lane-wise and the chunked parallel scans equal the sequential one. */
class ScanProperties {

    record Scan(int T, int C, int chunk, float[] a, float[] b, float[] h0) {
        @Override
        public String toString() {
            return "Scan[T=" + T + ", C=" + C + ", chunk=" + chunk + ", a=" + Gen.show(a) + ", b=" + Gen.show(b)
                    + ", h0=" + (h0 == null ? "null" : Gen.show(h0)) + "]";
        }
    }

    @Provide
    Arbitrary<Scan> scans() {
        return Combinators.combine(Gen.length(150), Arbitraries.integers().between(1, 40), Arbitraries.integers().between(1, 50),
                        Arbitraries.of(true, false))
                .flatAs((T, C, chunk, withH0) -> Combinators.combine(
                                // Decays in (0, 1], as exp(Δ·A) with A < 0 gives.
                                Arbitraries.floats().between(1e-3f, 1f).ofScale(7).array(float[].class).ofSize(T * C),
                                Gen.floats(T * C), Gen.floats(C))
                        .as((a, b, h0) -> new Scan(T, C, chunk, a, b, withH0 ? h0 : null)));
    }

    @Property(tries = 400)
    void everyFormEqualsTheRecurrence(@ForAll("scans") Scan s) {
        int T = s.T(), C = s.C();
        float[] seq = new float[T * C], lanes = new float[T * C], chunked = new float[T * C];
        LinearScan.sequential(s.a(), s.b(), s.h0(), seq, T, C);
        LinearScan.lanes(Paths.active(), s.a(), s.b(), s.h0(), lanes, T, C);
        LinearScan.chunked(Paths.active(), s.a(), s.b(), s.h0(), chunked, T, C, s.chunk());
        for (int c = 0; c < C; c++) {
            double exact = s.h0() == null ? 0 : s.h0()[c], abs = Math.abs(exact);
            for (int t = 0; t < T; t++) {
                int i = t * C + c;
                exact = s.a()[i] * exact + s.b()[i];
                abs = s.a()[i] * abs + Math.abs(s.b()[i]);
                // Each step rounds twice (and the chunked form reassociates the products): a few u per
                // step of the magnitudes flowing through.
                double bound = (4 * t + 8) * Gen.U * abs + Float.MIN_NORMAL;
                assertThat(Math.abs(seq[i] - exact)).as("sequential t=%d c=%d", t, c).isLessThanOrEqualTo(bound);
                assertThat(Math.abs(lanes[i] - exact)).as("lanes t=%d c=%d", t, c).isLessThanOrEqualTo(bound);
                assertThat(Math.abs(chunked[i] - exact)).as("chunked t=%d c=%d", t, c).isLessThanOrEqualTo(bound);
            }
        }
    }
}
