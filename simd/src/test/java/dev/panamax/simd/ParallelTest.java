package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ParallelTest {

    private final int initialThreads = Parallel.threads();

    @AfterEach
    void restore() {
        Parallel.setThreads(initialThreads);
    }

    @Test
    void everyTaskRunsExactlyOnceOnEverySize() {
        for (int threads = 1; threads <= 4; threads++) {
            Parallel.setThreads(threads);
            for (int tasks : new int[] {0, 1, 2, 3, 7, 64, 1000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(tasks, 1));
                for (int round = 0; round < 50; round++) Parallel.forEach(tasks, hits::incrementAndGet);
                for (int t = 0; t < tasks; t++) assertEquals(50, hits.get(t), "task " + t + " of " + tasks + " on " + threads);
            }
        }
    }

    @Test
    void rangesCoverEachItemOnceAlignedToTheGrain() {
        Parallel.setThreads(3);
        for (int n : new int[] {1, 5, 16, 17, 100, 257}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            Parallel.forRange(n, 4, (s, e) -> {
                assertEquals(0, s % 4, "start " + s);
                for (int i = s; i < e; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "item " + i + " of " + n);
        }
    }

    @Test
    void aFailingTaskIsRethrownInTheCaller() {
        Parallel.setThreads(2);
        IllegalStateException boom = new IllegalStateException("boom");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> Parallel.forEach(8, t -> {
            if (t == 5) throw boom;
        }));
        assertSame(boom, thrown);
        // The pool still works afterwards.
        AtomicIntegerArray hits = new AtomicIntegerArray(8);
        Parallel.forEach(8, hits::incrementAndGet);
        for (int t = 0; t < 8; t++) assertEquals(1, hits.get(t));
    }

    @Test
    void nestedAndConcurrentCallsComplete() throws Exception {
        Parallel.setThreads(2);
        AtomicIntegerArray hits = new AtomicIntegerArray(16 * 16);
        Parallel.forEach(16, i -> Parallel.forEach(16, j -> hits.incrementAndGet(i * 16 + j)));
        for (int i = 0; i < 256; i++) assertEquals(1, hits.get(i));

        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            AtomicIntegerArray counts = new AtomicIntegerArray(4 * 100);
            Future<?>[] fs = new Future<?>[4];
            for (int c = 0; c < 4; c++) {
                int base = c * 100;
                fs[c] = callers.submit(() -> {
                    for (int r = 0; r < 200; r++) Parallel.forEach(100, t -> counts.incrementAndGet(base + t));
                });
            }
            for (Future<?> f : fs) f.get();
            for (int i = 0; i < 400; i++) assertEquals(200, counts.get(i));
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void threadCountIsValidated() {
        assertThrows(IllegalArgumentException.class, () -> Parallel.setThreads(0));
        Parallel.setThreads(3);
        assertEquals(3, Parallel.threads());
        assertTrue(Parallel.threads() >= 1);
    }
}
