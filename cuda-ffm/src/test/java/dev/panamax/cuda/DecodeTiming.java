package dev.panamax.cuda;

import dev.panamax.runtime.backend.Backends;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import java.nio.file.Path;

/**
 * Where a decode step's time goes (run by {@code tools/gpu.sh run timing}): wall time per
 * forward(), GPU time of one graph replay (events), and replays back to back without waiting.
 */
public final class DecodeTiming {
    public static void main(String[] args) {
        try (LanguageModel m = Backends.place("cuda", ModelLoader.loadLanguageModel(Path.of(args[0]), CudaModelTest.OPTIONS), System.out::println)) {
            CudaDecoder.Session s = (CudaDecoder.Session) m.newSession();
            s.prefill(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, false);
            for (int i = 0; i < 20; i++) s.forward(9);
            int n = 200;
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) s.forward(10);
            long t1 = System.nanoTime();
            System.out.printf("forward(): %.1f us per token (wall)%n", (t1 - t0) / 1e3 / n);
            Driver d = s.cx.driver;
            long e0 = d.createEvent(), e1 = d.createEvent();
            d.record(e0, s.stream);
            d.launchGraph(s.graph[1], s.stream);
            d.record(e1, s.stream);
            System.out.printf("one replay: %.1f us (GPU, events)%n", d.elapsedMillis(e0, e1) * 1e3);
            d.record(e0, s.stream);
            for (int i = 0; i < n; i++) d.launchGraph(s.graph[1], s.stream);
            d.record(e1, s.stream);
            System.out.printf("%d replays back to back: %.1f us each (GPU)%n", n, d.elapsedMillis(e0, e1) * 1e3 / n);
            long t2 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                d.launchGraph(s.graph[1], s.stream);
                d.synchronize(s.stream);
            }
            System.out.printf("replay + synchronize: %.1f us each (wall)%n", (System.nanoTime() - t2) / 1e3 / n);
            long t3 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                s.cx.makeCurrent();
                d.synchronize(s.stream);
            }
            System.out.printf("makeCurrent + synchronize alone: %.1f us each (wall)%n", (System.nanoTime() - t3) / 1e3 / n);
        }
    }
}
