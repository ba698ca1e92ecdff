/**
 * The embedded default model, kjv-llama (a 5.4M-parameter Llama trained on the King James Bible),
 * as the resource {@value dev.panamax.kjv.KjvLlama#RESOURCE}, which
 * {@code Panamax.loadDefault()} finds on the class path or module path.
 */
module dev.panamax.kjv {
    exports dev.panamax.kjv;
    // A resource in a named module is found from other modules only when its package is open.
    opens dev.panamax.kjv;
}
