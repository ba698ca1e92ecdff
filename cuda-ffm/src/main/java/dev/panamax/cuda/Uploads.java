package dev.panamax.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A model's weights on their way to the device: a ring of page-locked staging buffers that the CPU
 * fills (a matrix's rows packed by the kernel threads) while the copy engine moves the buffer filled
 * before it, on a stream of its own. Opened around a model's uploads ({@link CudaContext#beginUploads}):
 * inside, {@link CudaContext#upload} and {@link DeviceMatrix#upload} return once their bytes are staged
 * and queued, and {@link #close} waits until all of them are on the device.
 *
 * <p>Why: a matrix packed into fresh pageable memory (zeroed first, then filled) and copied with a
 * synchronous {@code cuMemcpyHtoD} (the driver stages pageable memory itself) does each step after
 * the other; TinyLlama's 2.2 GB took about two seconds that way. Page-locked memory is copied by DMA at
 * the bus's speed, and with several buffers reading the file, converting and copying overlap.
 *
 * <p>A buffer is reused only after the event recorded behind its last copy has passed. Small pieces
 * (norm vectors, biases) share a buffer: {@link #reserve} hands out consecutive slices of the current
 * one until it is full.
 */
final class Uploads implements AutoCloseable {
    /** Bytes of one staging buffer by default; a piece larger than a buffer is copied in several. */
    static final long BUFFER = 16 << 20;
    static final int BUFFERS = 4;

    /** Bytes of each staging buffer. */
    final long buffer;
    private final CudaContext cx;
    private final Arena arena = Arena.ofShared();
    private final boolean staged;
    private final long stream;
    private final MemorySegment[] host = new MemorySegment[BUFFERS];
    /** Device twins of the host buffers, for blocks split on the device ({@link #sendBlocks}); 0 until needed. */
    private final long[] device = new long[BUFFERS];
    private final long[] events = new long[BUFFERS];
    private final boolean[] recorded = new boolean[BUFFERS];
    private int current, used;
    private long bytes;
    private final long started = System.nanoTime();
    private boolean closed;

    /** Staging buffers when {@code staged}; otherwise only the counts (every upload synchronous, as outside). */
    Uploads(CudaContext cx, boolean staged, long buffer) {
        this.cx = cx;
        this.staged = staged;
        this.buffer = buffer;
        if (!staged) {
            stream = 0;
            return;
        }
        cx.makeCurrent();
        stream = cx.driver.createStream();
        try {
            for (int i = 0; i < BUFFERS; i++) events[i] = cx.driver.createEvent();
            host[0] = cx.allocateHost(arena, buffer);
        } catch (RuntimeException e) {
            release();
            throw e;
        }
    }

    /**
     * {@code size} bytes (at most {@link #buffer}) of page-locked memory to fill and then {@link #send}:
     * the rest of the current buffer, or the next buffer once the copies from it have ended.
     */
    MemorySegment reserve(long size) {
        if (size > buffer) throw new IllegalArgumentException(size + " bytes exceed a staging buffer of " + buffer);
        if (used + size > buffer) next();
        MemorySegment s = host[current].asSlice(used, size);
        used += (size + 255) & ~255L;
        return s;
    }

    /** Queues the copy of {@code staged} (a slice from {@link #reserve}) to device address {@code dst}. */
    void send(long dst, MemorySegment staged) {
        if (staged.byteSize() == 0) return;
        cx.driver.copyToDeviceAsync(dst, staged.address(), staged.byteSize(), stream);
        bytes += staged.byteSize();
    }

    /**
     * Queues {@code staged} (a slice from {@link #reserve}: {@code blocks} GGUF Q8_0 or Q4_0 blocks as in the
     * file, a half scale and {@code codeBytes} of codes each) to the device's twin of its buffer, and there
     * the kernel {@code split_blocks} that writes their codes to {@code codes} and their scales to
     * {@code scales} — so the CPU copies rows whole instead of splitting 34-byte blocks one by one.
     */
    void sendBlocks(MemorySegment staged, long blocks, int codeBytes, long codes, long scales) {
        if (blocks == 0) return;
        if (device[current] == 0) device[current] = cx.allocate(arena, buffer);
        long raw = device[current] + (staged.address() - host[current].address());
        cx.driver.copyToDeviceAsync(raw, staged.address(), staged.byteSize(), stream);
        cx.launch("split_blocks", new int[] {(int) Math.max(1, Math.min(8192, (blocks + 255) / 256))}, 256, 0, stream, raw, blocks, codeBytes, codes, scales);
        bytes += staged.byteSize();
    }

    /** Copies {@code data} (any segment) to {@code dst} through the staging buffers. */
    void copy(long dst, MemorySegment data) {
        for (long at = 0; at < data.byteSize(); at += buffer) {
            long n = Math.min(buffer, data.byteSize() - at);
            MemorySegment s = reserve(n);
            MemorySegment.copy(data, at, s, 0, n);
            send(dst + at, s);
        }
    }

    /** Moves to the next buffer: marks the copies queued from this one, then waits for the next one's. */
    private void next() {
        cx.driver.record(events[current], stream);
        recorded[current] = true;
        current = (current + 1) % BUFFERS;
        if (host[current] == null) host[current] = cx.allocateHost(arena, buffer);
        else if (recorded[current]) cx.driver.synchronizeEvent(events[current]);
        used = 0;
    }

    /** Whether uploads go through the staging buffers. */
    boolean staged() {
        return staged;
    }

    /** Counts bytes uploaded synchronously while these were open (not staged). */
    void count(long n) {
        bytes += n;
    }

    /** Bytes queued so far. */
    long bytes() {
        return bytes;
    }

    /** Nanoseconds since this was opened. */
    long elapsedNanos() {
        return System.nanoTime() - started;
    }

    /** Waits until every queued copy is on the device, then frees the buffers. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        cx.uploadsClosed(this);
        if (!staged) return;
        cx.makeCurrent();
        try {
            cx.driver.synchronize(stream);
        } finally {
            release();
        }
    }

    private void release() {
        for (long e : events) if (e != 0) cx.driver.destroyEvent(e);
        cx.driver.destroyStream(stream);
        arena.close();
    }
}
