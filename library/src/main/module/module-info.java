/**
 * Panamax for the common case: one module to require, bringing the runtime API and every model
 * family (the CPU kernels come with them). Add {@code dev.panamax.kjv} for the default model and
 * {@code dev.panamax.cuda} for NVIDIA GPUs.
 */
module dev.panamax {
    requires transitive dev.panamax.runtime;
    requires dev.panamax.models;
}
