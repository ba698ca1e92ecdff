package dev.panamax.runtime.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void readsWhatTransformersWritesIncludingItsInfinity() throws Exception {
        Path cfg = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/hf/mamba2/config.json");
        Map<String, Object> c = Json.object(Json.parse(Files.readString(cfg)), "config");
        List<Object> limit = Json.array(c.get("time_step_limit"), "time_step_limit");
        assertEquals(0.0, Json.number(limit.get(0), "lower"));
        assertEquals(Double.POSITIVE_INFINITY, Json.number(limit.get(1), "upper"));
        assertEquals("mamba2", c.get("model_type"));
    }

    @Test
    void valuesAndEscapes() {
        Object v = Json.parse(" {\"a\": [1, -2.5e3, true, false, null, \"\\u00e9\\n\\\"x\\\"\"], \"b\": {}, \"c\": [], \"big\": 12345678901234567890} ");
        Map<String, Object> m = Json.object(v, "root");
        assertEquals(List.of(1L, -2500.0, true, false, "é\n\"x\""), ((List<?>) m.get("a")).stream().filter(o -> o != null).toList());
        assertEquals(Map.of(), m.get("b"));
        assertEquals(1.2345678901234567e19, (Double) m.get("big"), 1e4);
        assertEquals(Double.NEGATIVE_INFINITY, Json.parse("-Infinity"));
        assertTrue(Double.isNaN((Double) Json.parse("NaN")));
    }

    @Test
    void malformedInputSaysWhereItBroke() {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\": [1, 2,\n  }"));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\": 1} x"));
        assertThrows(Json.JsonException.class, () -> Json.parse("\"unterminated"));
        assertThrows(Json.JsonException.class, () -> Json.parse("[".repeat(1000)));
    }
}
