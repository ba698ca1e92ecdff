package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuantPlanTest {

    @Test
    void q4KMGivesTheHeadAndTheFavouredLayersSixBits() {
        QuantPlan p = QuantPlan.parse("Q4_K_M").withLayers(32);
        List<Integer> more = new ArrayList<>();
        for (int i = 0; i < 32; i++) if (p.typeFor("blk." + i + ".ffn_down.weight", 4096) == DType.Q6_K) more.add(i);
        // The first and last eighth (0-3, 28-31) and every third layer between, from the 3rd on (6, 9, …, 27).
        assertEquals(List.of(0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31), more);
        assertEquals(DType.Q6_K, p.typeFor("blk.6.attn_v.weight", 4096));
        assertEquals(DType.Q4_K, p.typeFor("blk.6.attn_q.weight", 4096));
        assertEquals(DType.Q4_K, p.typeFor("blk.5.attn_v.weight", 4096));
        assertEquals(DType.Q6_K, p.typeFor("output.weight", 4096));
        assertEquals(DType.Q4_K, p.typeFor("token_embd.weight", 4096));
        assertEquals(15, p.fileType());
    }

    @Test
    void rowsThatAreNotWholeBlocksFallBack() {
        QuantPlan p = QuantPlan.parse("q6_k");
        assertEquals(DType.Q8_0, p.typeFor("blk.0.ffn_down.weight", 96), "whole blocks of 32: Q8_0");
        assertEquals(DType.F16, p.typeFor("blk.0.ffn_down.weight", 688));
        assertEquals(DType.F32, p.withFallback(DType.F32).typeFor("blk.0.ffn_down.weight", 688));
        assertEquals(DType.F16, QuantPlan.parse("q4_0").typeFor("x.weight", 48));
        assertEquals(DType.Q4_0, QuantPlan.parse("q4_0").typeFor("x.weight", 64));
    }

    @Test
    void unknownNamesAreErrorsListingTheKnownOnes() {
        ModelException e = assertThrows(ModelException.class, () -> QuantPlan.parse("q3_k_xl"));
        assertEquals("unknown quantization type 'q3_k_xl' (known: " + QuantPlan.NAMES + ")", e.getMessage());
    }
}
