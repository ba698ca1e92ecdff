/**
 * The Panamax runtime and its public API.
 *
 * <p>API: {@code dev.panamax.runtime} ({@link dev.panamax.runtime.Panamax}, options, model info),
 * {@code .generate} (generation, chat, cancellation), {@code .model} (the model interfaces and the
 * {@link dev.panamax.runtime.model.Architecture} service that model families provide),
 * {@code .tokenizer}, {@code .tensor} (element types) and {@code .image} (decoding and preprocessing
 * images for vision models). File formats, JSON, the backend SPI and
 * the search index are exported only to the Panamax modules that plug into them.
 */
module dev.panamax.runtime {
    requires dev.panamax.simd;
    requires dev.panamax.quant;
    requires static java.desktop; // javax.imageio, only to decode image files (RgbImage.read)

    exports dev.panamax.runtime;
    exports dev.panamax.runtime.generate;
    exports dev.panamax.runtime.model;
    exports dev.panamax.runtime.tokenizer;
    exports dev.panamax.runtime.tensor;
    exports dev.panamax.runtime.image;

    exports dev.panamax.runtime.format to dev.panamax.models, dev.panamax.cuda;
    exports dev.panamax.runtime.json to dev.panamax.models, dev.panamax.cuda;
    exports dev.panamax.runtime.backend to dev.panamax.models, dev.panamax.cuda;
    exports dev.panamax.runtime.search to dev.panamax.models;

    uses dev.panamax.runtime.model.Architecture;
    uses dev.panamax.runtime.backend.Backend;
}
