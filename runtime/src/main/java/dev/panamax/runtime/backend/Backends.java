package dev.panamax.runtime.backend;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.Model;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/** Finds backends and places a model on the device a user named ({@code --device cpu|cuda|auto}). */
public final class Backends {
    private Backends() {}

    /** Every backend on the class path (the CPU is not one: it is what a model runs on by default). */
    public static List<Backend> all() {
        List<Backend> all = new ArrayList<>();
        ServiceLoader.load(Backend.class, Backends.class.getClassLoader()).forEach(all::add);
        return all;
    }

    /** The backend called {@code name}, or null when none on the class path is. */
    public static Backend find(String name) {
        for (Backend b : all()) if (b.name().equals(name)) return b;
        return null;
    }

    /**
     * Starts finding out, on a background thread, whether {@code device}'s backend (every backend for
     * "auto") can be used — for CUDA, opening the driver, its context, NVRTC and cuBLAS, about half a
     * second — so that it overlaps the model's load; {@link #place} then waits for what is left.
     * Nothing for "cpu" or a name no backend has.
     */
    public static void probeInBackground(String device) {
        String d = device == null ? "cpu" : device.toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) return;
        List<Backend> which = d.equals("auto") ? all() : find(d) == null ? List.of() : List.of(find(d));
        for (Backend b : which) {
            Thread.ofPlatform().daemon().name("panamax-probe-" + b.name()).start(() -> {
                try {
                    b.unavailableReason();
                } catch (RuntimeException | LinkageError ignored) {
                    // place() asks again on its own thread and reports it there
                }
            });
        }
    }

    /**
     * {@code model} on {@code device}: "cpu" returns it unchanged; a backend's name places it there or
     * throws a {@link ModelException} saying why it cannot; "auto" takes the first backend that can run
     * it and otherwise keeps the CPU, telling {@code notes} why.
     */
    public static <M extends Model> M place(String device, M model, Consumer<String> notes) {
        String d = device == null ? "cpu" : device.toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) return model;
        if (d.equals("auto")) {
            List<Backend> all = all();
            if (all.isEmpty()) return model;
            for (Backend b : all) {
                String why = why(b, model);
                if (why == null) {
                    notes.accept("device: " + b.name() + ", " + b.describe());
                    return placed(b, model);
                }
                notes.accept("device: cpu (" + b.name() + ": " + why + ")");
            }
            return model;
        }
        Backend b = find(d);
        if (b == null) {
            StringBuilder names = new StringBuilder("cpu, auto");
            for (Backend x : all()) names.append(", ").append(x.name());
            throw new ModelException("device '" + device + "' is not in this build (devices: " + names + ")");
        }
        String why = why(b, model);
        if (why != null) throw new ModelException("cannot run on " + b.name() + ": " + why);
        notes.accept("device: " + b.name() + ", " + b.describe());
        return placed(b, model);
    }

    /** A backend keeps the model's kind ({@link Backend#place}); one that does not is a bug named here. */
    @SuppressWarnings("unchecked")
    private static <M extends Model> M placed(Backend b, M model) {
        Model out = b.place(model);
        Class<?> kind = model instanceof dev.panamax.runtime.model.LanguageModel ? dev.panamax.runtime.model.LanguageModel.class
                : model instanceof dev.panamax.runtime.model.EncoderModel ? dev.panamax.runtime.model.EncoderModel.class : Model.class;
        if (!kind.isInstance(out)) {
            out.close();
            throw new IllegalStateException("backend " + b.name() + " turned a " + kind.getSimpleName() + " into a " + out.getClass().getName());
        }
        return (M) out;
    }

    private static String why(Backend b, Model model) {
        String why = b.unavailableReason();
        return why != null ? why : b.cannotRun(model);
    }
}
